import { ApiProperty } from '@nestjs/swagger';
import { ProfileDto } from '../../auth/dto/profile.dto';

/** What POST and DELETE /api/profiles/:id/block answer (PROTOCOL.md §3 "Blocks"). */
export class BlockResultDto {
  @ApiProperty({ format: 'uuid' })
  profileId!: string;

  @ApiProperty({ description: 'whether the caller blocks that person now' })
  blocked!: boolean;
}

export class BlockDto {
  @ApiProperty({ type: ProfileDto })
  profile!: ProfileDto;

  @ApiProperty({ format: 'date-time', description: 'when the caller blocked them' })
  createdAt!: string;
}

export class BlockListDto {
  @ApiProperty({ type: [BlockDto], description: 'newest first' })
  blocks!: BlockDto[];
}
