import { ApiProperty } from '@nestjs/swagger';

/** A person as every client sees them. */
export class ProfileDto {
  @ApiProperty({ format: 'uuid' })
  id!: string;

  @ApiProperty()
  username!: string;

  @ApiProperty()
  displayName!: string;

  @ApiProperty({ type: String, nullable: true })
  avatarUrl!: string | null;

  @ApiProperty({ format: 'date-time' })
  createdAt!: string;
}
