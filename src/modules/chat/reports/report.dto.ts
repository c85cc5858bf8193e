import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID } from 'class-validator';
import { MessageDto } from '../../../common/messages/message';
import { PageLimit } from '../dto/message.dto';

export const REPORT_STATUSES = ['open', 'resolved', 'dismissed'] as const;
export type ReportStatus = (typeof REPORT_STATUSES)[number];
const STATUS_MESSAGE = `must be one of ${REPORT_STATUSES.join(', ')}`;

/** A report as anyone sees it (PROTOCOL.md §3 "Reports"): never who made it. */
export class ReportDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty({ format: 'uuid' })
  roomId!: string;

  @ApiProperty({ format: 'uuid' })
  messageId!: string;

  @ApiProperty()
  reason!: string;

  @ApiProperty({ enum: REPORT_STATUSES })
  status!: ReportStatus;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;

  @ApiProperty({ format: 'date-time' })
  updatedAt!: string;
}

export class ReportMessageDto {
  @ApiProperty({ description: 'why: trimmed, 1 to 1000 characters' })
  @IsString()
  reason!: string;
}

export class ReportResultDto {
  @ApiProperty({ type: ReportDto })
  report!: ReportDto;
}

/** One entry of the owner's list: the report, the message as it is now, and how many people reported it. */
export class RoomReportDto extends ReportDto {
  @ApiProperty({ type: MessageDto })
  message!: MessageDto;

  @ApiProperty({ description: 'how many people reported this message (all statuses)' })
  reports!: number;
}

export class ReportListDto {
  @ApiProperty({ type: [RoomReportDto] })
  reports!: RoomReportDto[];

  @ApiProperty({ description: 'true when older reports follow: ask again with before = the last id' })
  hasMore!: boolean;
}

export class ReportListQueryDto {
  @ApiPropertyOptional({ enum: [...REPORT_STATUSES, 'all'], default: 'open' })
  @IsOptional()
  @IsIn([...REPORT_STATUSES, 'all'], { message: `must be one of ${REPORT_STATUSES.join(', ')}, all` })
  status?: ReportStatus | 'all';

  @ApiPropertyOptional({ format: 'uuid', description: 'only reports older than this one (the last of a page)' })
  @IsOptional()
  @IsUUID('all', { message: 'must be a report id (UUID)' })
  before?: string;

  @PageLimit()
  limit?: number;
}

export class SetReportStatusDto {
  @ApiProperty({ enum: REPORT_STATUSES })
  @IsIn(REPORT_STATUSES, { message: STATUS_MESSAGE })
  status!: ReportStatus;
}
