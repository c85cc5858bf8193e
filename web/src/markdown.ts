import DOMPurify from 'dompurify';
import MarkdownIt from 'markdown-it';
import { el } from './dom';

/** CommonMark with raw HTML off (`<b>` stays text), links made from URLs, single newlines kept. */
const md = new MarkdownIt({ html: false, linkify: true, breaks: true });

/**
 * Renders a message's markdown into `target`, sanitized by DOMPurify (no scripts, handlers, styles or images: the
 * page's CSP would stop most of them anyway). Links open in a new tab without the opener; code blocks get a copy
 * button.
 */
export function renderMarkdown(target: HTMLElement, text: string): void {
  const fragment = DOMPurify.sanitize(md.render(text), {
    RETURN_DOM_FRAGMENT: true,
    FORBID_TAGS: ['img', 'style', 'form', 'input', 'button', 'iframe'],
    FORBID_ATTR: ['style', 'class', 'id'],
  });
  for (const link of fragment.querySelectorAll('a')) {
    link.target = '_blank';
    link.rel = 'noopener noreferrer nofollow';
  }
  for (const pre of fragment.querySelectorAll('pre')) {
    const block = el('div', 'code-block');
    pre.replaceWith(block);
    const copy = el('button', 'small secondary copy', 'Copy');
    copy.type = 'button';
    copy.setAttribute('aria-label', 'Copy code');
    copy.addEventListener('click', () => {
      void navigator.clipboard.writeText(pre.textContent ?? '').then(
        () => (copy.textContent = 'Copied'),
        () => (copy.textContent = 'Copy failed'),
      );
    });
    block.append(copy, pre);
  }
  target.replaceChildren(fragment);
}
