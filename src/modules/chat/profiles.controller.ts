import { Body, Controller, Get, Param, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { CurrentActor } from '../auth/current-user.decorator';
import type { UserActor } from '../persistence/database.port';
import { ProfileDto } from '../auth/dto/profile.dto';
import { UpdateProfileDto } from './dto/update-profile.dto';
import { ProfilesRepository } from './profiles.repository';
import { uuidPipe } from './uuid.pipe';

@ApiTags('profiles')
@ApiBearerAuth()
@Controller('api/profiles')
export class ProfilesController {
  constructor(private readonly profiles: ProfilesRepository) {}

  @Get('me')
  @ApiOperation({ summary: 'The caller’s profile' })
  @ApiResponse({ status: 200, type: ProfileDto })
  me(@CurrentActor() actor: UserActor): Promise<ProfileDto> {
    return this.profiles.get(actor, actor.id);
  }

  @Patch('me')
  @ApiOperation({ summary: 'Change the caller’s display name or avatar' })
  @ApiResponse({ status: 200, type: ProfileDto })
  update(@CurrentActor() actor: UserActor, @Body() body: UpdateProfileDto): Promise<ProfileDto> {
    return this.profiles.updateMine(actor, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Any profile, for any signed-in caller' })
  @ApiResponse({ status: 200, type: ProfileDto })
  get(@CurrentActor() actor: UserActor, @Param('id', uuidPipe('Profile')) id: string): Promise<ProfileDto> {
    return this.profiles.get(actor, id);
  }
}
