/**
 * `@ai` as a word of its own, any case (PROTOCOL.md §5): at the start or after a character that is not
 * a letter, digit or `_`, and at the end or before one that is not a letter, digit, `_` or `-`.
 */
const MENTION = /(?<![\p{L}\p{N}_])@ai(?![\p{L}\p{N}_-])/iu;

export function mentionsAi(content: string): boolean {
  return MENTION.test(content);
}

export type AiMode = 'off' | 'mention' | 'always';

export function asksForReply(mode: AiMode, content: string): boolean {
  switch (mode) {
    case 'off':
      return false;
    case 'mention':
      return mentionsAi(content);
    case 'always':
      return true;
  }
}
