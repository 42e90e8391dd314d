/**
 * Races `work` against a timer: WeChat gives up on an answer after 5 s, so a push or a message is answered (with
 * the error `timeoutError` builds, a 503 WeChat re-sends) before that, whatever is still pending behind it.
 */
export function withDeadline<T>(work: Promise<T>, ms: number, timeoutError: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timeoutError()), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
