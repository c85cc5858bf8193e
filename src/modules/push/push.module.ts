import { Module } from '@nestjs/common';
import { MetricsModule } from '../metrics/metrics.module';
import { DevicesController } from './devices.controller';
import { DevicesRepository } from './devices.repository';
import { ExpoPushClient } from './expo-push.client';
import { PushGate } from './push-gate.service';
import { PushSender } from './push-sender.service';

/**
 * Devices and the delivery of push notifications. Who gets one for a stored message is decided by PushService,
 * which sits in the chat module beside the presence it reads.
 */
@Module({
  imports: [MetricsModule],
  controllers: [DevicesController],
  providers: [DevicesRepository, ExpoPushClient, PushSender, PushGate],
  exports: [DevicesRepository, PushGate],
})
export class PushModule {}
