import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Length, Max, Min, ValidateNested, ValidationError } from 'class-validator';
import { randomUUID } from 'node:crypto';
import { AppException } from '../errors/app.exception';
import { ErrorCode } from '../errors/error-code';
import { createValidationPipe, flattenValidationErrors } from './validation.pipe';

function makeError(property: string, constraints?: Record<string, string>, children: ValidationError[] = []) {
  const error = new ValidationError();
  error.property = property;
  error.constraints = constraints;
  error.children = children;
  return error;
}

class AiSettingsDto {
  @IsOptional()
  @IsIn(['off', 'mention', 'always'])
  mode?: string;
}

class CreateThingDto {
  @IsString()
  @Length(1, 10)
  name!: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @IsOptional()
  @ValidateNested()
  @Type(() => AiSettingsDto)
  ai?: AiSettingsDto;
}

async function transformError(value: unknown): Promise<AppException> {
  const sut = createValidationPipe();
  try {
    await sut.transform(value, { type: 'body', metatype: CreateThingDto });
  } catch (error) {
    if (error instanceof AppException) {
      return error;
    }
    throw error;
  }
  throw new Error('the pipe did not throw');
}

describe(flattenValidationErrors.name, () => {
  it('should give a top-level field its own name', () => {
    const sut = flattenValidationErrors([makeError('name', { isString: 'name must be a string' })]);

    expect(sut).toEqual([{ field: 'name', message: 'must be a string' }]);
  });

  it('should give a nested field its dotted path', () => {
    const sut = flattenValidationErrors([
      makeError('ai', undefined, [makeError('mode', { isIn: 'mode must be one of the following values: off, on' })]),
    ]);

    expect(sut).toEqual([{ field: 'ai.mode', message: 'must be one of the following values: off, on' }]);
  });

  it('should follow paths several levels deep', () => {
    const sut = flattenValidationErrors([
      makeError('a', undefined, [
        makeError('b', undefined, [makeError('c', { isInt: 'c must be an integer number' })]),
      ]),
    ]);

    expect(sut).toEqual([{ field: 'a.b.c', message: 'must be an integer number' }]);
  });

  it('should keep a custom message as it is', () => {
    const custom = `Pick a better name ${randomUUID()}`;

    const sut = flattenValidationErrors([makeError('name', { custom })]);

    expect(sut).toEqual([{ field: 'name', message: custom }]);
  });

  it('should only strip the property name when it is a whole word prefix', () => {
    const sut = flattenValidationErrors([makeError('name', { custom: 'names must be unique' })]);

    expect(sut).toEqual([{ field: 'name', message: 'names must be unique' }]);
  });

  it('should give one detail per constraint', () => {
    const sut = flattenValidationErrors([
      makeError('name', {
        isString: 'name must be a string',
        isLength: 'name must be longer than or equal to 1 characters',
      }),
    ]);

    expect(sut).toHaveLength(2);
    expect(sut).toEqual(
      expect.arrayContaining([
        { field: 'name', message: 'must be a string' },
        { field: 'name', message: 'must be longer than or equal to 1 characters' },
      ]),
    );
  });

  it('should list the details of several fields and their children', () => {
    const sut = flattenValidationErrors([
      makeError('name', { isString: 'name must be a string' }),
      makeError('ai', { isObject: 'ai must be an object' }, [makeError('mode', { isIn: 'mode is wrong' })]),
    ]);

    expect(sut).toEqual([
      { field: 'name', message: 'must be a string' },
      { field: 'ai', message: 'must be an object' },
      { field: 'ai.mode', message: 'is wrong' },
    ]);
  });

  it('should give nothing for no errors', () => {
    expect(flattenValidationErrors([])).toEqual([]);
  });
});

describe(createValidationPipe.name, () => {
  it('should reject a bad body with VALIDATION_FAILED and its details', async () => {
    const error = await transformError({ name: 42, limit: 0, ai: { mode: 'sometimes' } });

    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details).toEqual(
      expect.arrayContaining([
        { field: 'name', message: 'must be a string' },
        { field: 'limit', message: 'must not be less than 1' },
        { field: 'ai.mode', message: expect.stringMatching(/^must be one of the following values/) },
      ]),
    );
    expect(error.details?.every((d) => !d.message.startsWith(`${d.field.split('.').pop()} `))).toBe(true);
  });

  it('should name the first detail in the message', async () => {
    const error = await transformError({ name: '' });

    expect(error.details?.[0]).toEqual({ field: 'name', message: expect.any(String) });
    expect(error.message).toBe(`name: ${error.details?.[0].message}`);
  });

  it('should reject a body that is not an object', async () => {
    const error = await transformError('just a string');

    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
  });

  it('should pass a good body through as an instance without unknown fields', async () => {
    const sut = createValidationPipe();

    const result = await sut.transform(
      { name: 'ok', limit: 5, ai: { mode: 'always' }, extra: randomUUID() },
      { type: 'body', metatype: CreateThingDto },
    );

    expect(result).toBeInstanceOf(CreateThingDto);
    expect(result).toEqual({ name: 'ok', limit: 5, ai: { mode: 'always' } });
    expect(result.ai).toBeInstanceOf(AiSettingsDto);
  });
});

describe('createValidationPipe: screening', () => {
  it('should refuse a body nested 5,000 levels deep with VALIDATION_FAILED, not a stack overflow', async () => {
    let deep: unknown = 1;
    for (let i = 0; i < 5000; i++) {
      deep = { a: deep };
    }

    const error = await transformError({ name: 'ok', deep });

    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details?.[0].field).toMatch(/^deep(\.a)+$/);
  });

  it('should refuse a NUL character in a field the DTO keeps, naming it', async () => {
    const error = await transformError({ name: 'a\u0000b' });

    expect(error.details).toEqual([{ field: 'name', message: 'must not contain NUL characters' }]);
  });

  it('should pass a NUL character in an unknown field, which is dropped unread', async () => {
    const result = await createValidationPipe().transform(
      { name: 'ok', extra: 'a\u0000b' },
      { type: 'body', metatype: CreateThingDto },
    );

    expect(result).toEqual({ name: 'ok' });
  });

  it('should make lone surrogates U+FFFD in what it passes on', async () => {
    const result = await createValidationPipe().transform(
      { name: '\ud800x', ai: { mode: 'always' } },
      { type: 'body', metatype: CreateThingDto },
    );

    expect(result.name).toBe('\ufffdx');
  });
});
