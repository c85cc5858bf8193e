import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentActor } from '../auth/current-user.decorator';
import type { UserActor } from '../persistence/database.port';
import { ChangesPageDto, ChangesQueryDto } from './dto/message.dto';
import { MessagesRepository } from './messages.repository';
import { uuidPipe } from './uuid.pipe';

/** A room's change feed (PROTOCOL.md §3 "Changes"): what a returning client missed, by rev. */
@ApiTags('messages')
@ApiBearerAuth()
@Controller('api/rooms/:id/changes')
export class ChangesController {
  constructor(private readonly messages: MessagesRepository) {}

  @Get()
  @ApiOperation({ summary: 'The messages changed after afterRev, each once in its current state, ascending rev' })
  @ApiResponse({ status: 200, type: ChangesPageDto })
  changes(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Query() query: ChangesQueryDto,
  ): Promise<ChangesPageDto> {
    return this.messages.changes(actor, id, query.afterRev ?? 0, query.limit ?? 50);
  }
}
