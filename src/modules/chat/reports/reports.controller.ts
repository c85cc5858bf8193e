import { Body, Controller, Get, Param, Patch, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { CurrentActor } from '../../auth/current-user.decorator';
import type { UserActor } from '../../persistence/database.port';
import { uuidPipe } from '../uuid.pipe';
import { ReportListDto, ReportListQueryDto, ReportMessageDto, ReportResultDto, SetReportStatusDto } from './report.dto';
import { ReportsService } from './reports.service';

/** PROTOCOL.md §3 "Reports": a member reports a message; the room's owner lists and resolves the room's reports. */
@ApiTags('reports')
@ApiBearerAuth()
@Controller('api')
export class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Post('messages/:messageId/report')
  @ApiOperation({ summary: 'Report a message of a room one is a member of; a repeat answers the first report, 200' })
  @ApiResponse({ status: 201, type: ReportResultDto })
  async report(
    @CurrentActor() actor: UserActor,
    @Param('messageId', uuidPipe('Message')) messageId: string,
    @Body() body: ReportMessageDto,
    @Res({ passthrough: true }) res: Response,
  ): Promise<ReportResultDto> {
    const { report, created } = await this.reports.report(actor, messageId, body.reason);
    res.status(created ? 201 : 200);
    return { report };
  }

  @Get('rooms/:id/reports')
  @ApiOperation({ summary: 'The room’s reports, newest first (its owner only; never who reported)' })
  @ApiResponse({ status: 200, type: ReportListDto })
  list(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Query() query: ReportListQueryDto,
  ): Promise<ReportListDto> {
    return this.reports.list(actor, id, query);
  }

  @Patch('rooms/:id/reports/:reportId')
  @ApiOperation({ summary: 'Set a report’s status: open, resolved or dismissed (the room’s owner only)' })
  @ApiResponse({ status: 200, type: ReportResultDto })
  async setStatus(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Param('reportId', uuidPipe('Report')) reportId: string,
    @Body() body: SetReportStatusDto,
  ): Promise<ReportResultDto> {
    return { report: await this.reports.setStatus(actor, id, reportId, body.status) };
  }
}
