import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { AdminChannel } from './admin-channel';
import { BackupService } from './backup.service';

/** The app's data as a whole: automatic backups, and the embedded server's admin channel for export/validate. */
@Module({
  imports: [MetricsModule],
  providers: [AdminChannel, BackupService],
})
export class DataModule {}
