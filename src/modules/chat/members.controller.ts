import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentActor } from '../auth/current-user.decorator';
import type { UserActor } from '../persistence/database.port';
import { AddMemberDto, MemberDto, MemberListDto } from './dto/member.dto';
import { RoomsRepository } from './rooms.repository';
import { RoomsService } from './rooms.service';
import { uuidPipe } from './uuid.pipe';

@ApiTags('members')
@ApiBearerAuth()
@Controller('api/rooms/:id/members')
export class MembersController {
  constructor(
    private readonly rooms: RoomsRepository,
    private readonly roomsService: RoomsService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'The room’s members (members only)' })
  @ApiResponse({ status: 200, type: MemberListDto })
  async list(@CurrentActor() actor: UserActor, @Param('id', uuidPipe('Room')) id: string): Promise<MemberListDto> {
    return { members: await this.rooms.listMembers(actor, id) };
  }

  @Post()
  @ApiOperation({ summary: 'Add a member by username (owner)' })
  @ApiResponse({ status: 201, type: MemberDto })
  add(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Body() body: AddMemberDto,
  ): Promise<MemberDto> {
    return this.roomsService.addMember(actor, id, body.username);
  }

  @Delete(':profileId')
  @HttpCode(204)
  @ApiOperation({ summary: 'Remove a member (the owner, or the member itself)' })
  @ApiResponse({ status: 204 })
  async remove(
    @CurrentActor() actor: UserActor,
    @Param('id', uuidPipe('Room')) id: string,
    @Param('profileId', uuidPipe('Member')) profileId: string,
  ): Promise<void> {
    await this.roomsService.removeMember(actor, id, profileId);
  }
}
