import { AppException } from '../../common/errors/app.exception';

/** A message's content as PROTOCOL.md §3 "Rules for content" takes it: trimmed, not empty, at most `maxLength`. */
export function checkedContent(content: string, maxLength: number): string {
  const text = content.trim();
  if (text.length === 0) {
    throw AppException.validation([{ field: 'content', message: 'must not be empty' }]);
  }
  if (text.length > maxLength) {
    throw AppException.validation([{ field: 'content', message: `must be at most ${maxLength} characters` }]);
  }
  return text;
}

/** At most this many UTF-16 code units in a reaction (a flag or a family emoji with modifiers fits). */
export const MAX_EMOJI_LENGTH = 32;
const EMOJI =
  /^(?:\p{Extended_Pictographic}|\p{Regional_Indicator}|\p{Emoji_Modifier}|\p{Emoji_Component}|\u200d|\ufe0f|\u20e3)+$/u;
const PICTURE = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u;

/** A reaction is one emoji sequence (skin tones, flags, keycaps, ZWJ sequences), nothing else. */
export function checkedEmoji(emoji: string): string {
  if (emoji.length === 0 || emoji.length > MAX_EMOJI_LENGTH || !EMOJI.test(emoji) || !PICTURE.test(emoji)) {
    throw AppException.validation([{ field: 'emoji', message: `must be an emoji (1–${MAX_EMOJI_LENGTH} characters)` }]);
  }
  return emoji;
}
