import { Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentActor } from '../../auth/current-user.decorator';
import type { UserActor } from '../../persistence/database.port';
import { uuidPipe } from '../uuid.pipe';
import { BlockListDto, BlockResultDto } from './block.dto';
import { BlocksService } from './blocks.service';

/** PROTOCOL.md §3 "Blocks": the caller blocks and unblocks people, and lists whom they blocked. */
@ApiTags('blocks')
@ApiBearerAuth()
@Controller('api')
export class BlocksController {
  constructor(private readonly blocks: BlocksService) {}

  @Post('profiles/:id/block')
  @HttpCode(200)
  @ApiOperation({ summary: 'Block a person: their messages reach the caller as placeholders (a repeat is the same)' })
  @ApiResponse({ status: 200, type: BlockResultDto })
  block(@CurrentActor() actor: UserActor, @Param('id', uuidPipe('Profile')) id: string): Promise<BlockResultDto> {
    return this.blocks.set(actor, id, true);
  }

  @Delete('profiles/:id/block')
  @ApiOperation({ summary: 'Unblock a person (not blocked: the same answer)' })
  @ApiResponse({ status: 200, type: BlockResultDto })
  unblock(@CurrentActor() actor: UserActor, @Param('id', uuidPipe('Profile')) id: string): Promise<BlockResultDto> {
    return this.blocks.set(actor, id, false);
  }

  @Get('blocks')
  @ApiOperation({ summary: 'The people the caller blocked, newest first' })
  @ApiResponse({ status: 200, type: BlockListDto })
  list(@CurrentActor() actor: UserActor): Promise<BlockListDto> {
    return this.blocks.list(actor);
  }
}
