import type { Message } from '../../client/src';
import { button, el, reportError, textForm } from './dom';

/** What reporting needs: who the caller is, whether a message was reported from this page, and the call. */
export interface ReportActions {
  myId(): string | undefined;
  isReported(message: Message): boolean;
  report(message: Message, reason: string): Promise<void>;
}

/** Whether the caller may report the message: someone else's or the assistant's, not deleted, not streaming. */
function reportable(message: Message, actions: ReportActions): boolean {
  return (
    !message.deletedAt &&
    message.status !== 'streaming' &&
    (message.role === 'assistant' || (message.role === 'user' && message.senderId !== actions.myId()))
  );
}

/** "Reported" once the caller reported the message from this page; else a Report button that asks the reason. */
export function reportControls(item: HTMLLIElement, message: Message, actions: ReportActions): HTMLElement[] {
  if (!reportable(message, actions)) {
    return [];
  }
  if (actions.isReported(message)) {
    return [el('span', 'reported', 'Reported')];
  }
  return [button('Report', 'small secondary', () => askReason(item, message, actions), 'Report message')];
}

/** The reason is asked in the item itself, as Delete asks first; sending it redraws the item as "Reported". */
function askReason(item: HTMLLIElement, message: Message, actions: ReportActions): void {
  if (item.querySelector('.report-form')) {
    return;
  }
  const { form, input: reason } = textForm('report-form', 'Reason for the report', 'Send report', {
    submit: (text, send) => {
      if (!text) {
        reason.focus();
        return;
      }
      send.disabled = true;
      actions.report(message, text).catch((error: unknown) => {
        send.disabled = false;
        reportError(error);
      });
    },
    cancel: (shown) => shown.remove(),
  });
  reason.rows = 2;
  reason.maxLength = 1000;
  reason.placeholder = 'What is wrong with this message?';
  item.append(form);
  reason.focus();
}
