import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Put, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentActor } from '../auth/current-user.decorator';
import type { UserActor } from '../persistence/database.port';
import {
  CreateRoomDto,
  MembershipDto,
  PublicRoomsQueryDto,
  ReadRoomDto,
  ReadStateDto,
  RoomDto,
  RoomListDto,
  UpdateRoomDto,
} from './dto/room.dto';
import { RoomsRepository } from './rooms.repository';
import { RoomsService } from './rooms.service';
import { uuidPipe } from './uuid.pipe';

@ApiTags('rooms')
@ApiBearerAuth()
@Controller('api/rooms')
export class RoomsController {
  constructor(
    private readonly rooms: RoomsRepository,
    private readonly roomsService: RoomsService,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a room; the caller owns it' })
  @ApiResponse({ status: 201, type: RoomDto })
  create(@CurrentActor() actor: UserActor, @Body() body: CreateRoomDto): Promise<RoomDto> {
    return this.roomsService.create(actor, { ...body, name: body.name.trim() });
  }

  @Get()
  @ApiOperation({ summary: 'The caller’s rooms, most recently active first' })
  @ApiResponse({ status: 200, type: RoomListDto })
  async listMine(@CurrentActor() actor: UserActor): Promise<RoomListDto> {
    return { rooms: await this.rooms.listMine(actor) };
  }

  @Get('public')
  @ApiOperation({ summary: 'Public rooms whose name contains q, most recently active first' })
  @ApiResponse({ status: 200, type: RoomListDto })
  async listPublic(@CurrentActor() actor: UserActor, @Query() query: PublicRoomsQueryDto): Promise<RoomListDto> {
    return { rooms: await this.rooms.listPublic(actor, query.q, query.limit ?? 50) };
  }

  @Get(':id')
  @ApiOperation({ summary: 'A room (members; public rooms: any signed-in caller)' })
  @ApiResponse({ status: 200, type: RoomDto })
  get(@CurrentActor() actor: UserActor, @Param('id', uuidPipe('Room')) id: string): Promise<RoomDto> {
    return this.rooms.get(actor, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: 'Change a room (owner); only the fields sent change' })
  @ApiResponse({ status: 200, type: RoomDto })
  update(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Body() body: UpdateRoomDto,
  ): Promise<RoomDto> {
    return this.roomsService.update(actor, id, { ...body, name: body.name?.trim() });
  }

  @Delete(':id')
  @HttpCode(204)
  @ApiOperation({ summary: 'Delete a room and its messages (owner)' })
  @ApiResponse({ status: 204 })
  async delete(@CurrentActor() actor: UserActor, @Param('id', uuidPipe('Room')) id: string): Promise<void> {
    await this.roomsService.delete(actor, id);
  }

  @Put(':id/read')
  @ApiOperation({ summary: 'Move the caller’s read pointer forward (never back, never past the last message)' })
  @ApiResponse({ status: 200, type: ReadStateDto })
  read(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Body() body: ReadRoomDto,
  ): Promise<ReadStateDto> {
    return this.roomsService.markRead(actor, id, body.seq);
  }

  @Patch(':id/membership')
  @ApiOperation({ summary: 'The caller’s own settings for a room they are a member of: muted' })
  @ApiResponse({ status: 200, type: RoomDto })
  membership(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Body() body: MembershipDto,
  ): Promise<RoomDto> {
    return this.roomsService.setMuted(actor, id, body.muted);
  }

  @Post(':id/join')
  @HttpCode(200)
  @ApiOperation({ summary: 'Join a public room (joining twice is fine)' })
  @ApiResponse({ status: 200, type: RoomDto })
  join(@CurrentActor() actor: UserActor, @Param('id', uuidPipe('Room')) id: string): Promise<RoomDto> {
    return this.roomsService.join(actor, id);
  }

  @Post(':id/leave')
  @HttpCode(204)
  @ApiOperation({ summary: 'Leave a room (not its owner)' })
  @ApiResponse({ status: 204 })
  async leave(@CurrentActor() actor: UserActor, @Param('id', uuidPipe('Room')) id: string): Promise<void> {
    await this.roomsService.leave(actor, id);
  }
}
