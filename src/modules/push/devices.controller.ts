import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { AppException } from '../../common/errors/app.exception';
import { CurrentActor } from '../auth/current-user.decorator';
import type { UserActor } from '../persistence/database.port';
import { DevicesRepository } from './devices.repository';
import { DeviceDto, DeviceListDto, EXPO_PUSH_TOKEN, RegisterDeviceDto } from './dto/device.dto';

@ApiTags('devices')
@ApiBearerAuth()
@Controller('api/devices')
export class DevicesController {
  constructor(private readonly devices: DevicesRepository) {}

  @Post()
  @ApiOperation({ summary: "Register (or refresh) one of the caller's devices for push notifications" })
  @ApiResponse({ status: 201, type: DeviceDto })
  register(@CurrentActor() actor: UserActor, @Body() body: RegisterDeviceDto): Promise<DeviceDto> {
    return this.devices.register(actor, body.token, body.platform, body.locale ?? null);
  }

  @Get()
  @ApiOperation({ summary: "The caller's devices, the most recently registered first" })
  @ApiResponse({ status: 200, type: DeviceListDto })
  async list(@CurrentActor() actor: UserActor): Promise<DeviceListDto> {
    return { devices: await this.devices.listMine(actor) };
  }

  /** Idempotent: a token that is not (or no longer) the caller's answers 204 as well, and changes nothing. */
  @Delete(':token')
  @HttpCode(204)
  @ApiOperation({ summary: "Unregister one of the caller's devices" })
  @ApiResponse({ status: 204 })
  async unregister(@CurrentActor() actor: UserActor, @Param('token') token: string): Promise<void> {
    if (!EXPO_PUSH_TOKEN.test(token)) {
      throw AppException.notFound('Device');
    }
    await this.devices.unregister(actor, token);
  }
}
