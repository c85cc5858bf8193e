import { ApiProperty } from '@nestjs/swagger';
import { IsString, Matches } from 'class-validator';
import { ProfileDto } from '../../auth/dto/profile.dto';

export class MemberDto {
  @ApiProperty({ type: ProfileDto })
  profile!: ProfileDto;

  @ApiProperty({ enum: ['owner', 'member'] })
  role!: 'owner' | 'member';

  @ApiProperty({ format: 'date-time' })
  joinedAt!: string;
}

export class MemberListDto {
  @ApiProperty({ type: [MemberDto] })
  members!: MemberDto[];
}

export class AddMemberDto {
  @ApiProperty()
  @IsString()
  @Matches(/^[a-z0-9_]{3,32}$/, { message: 'must be 3–32 characters of a-z, 0-9 and _' })
  username!: string;
}
