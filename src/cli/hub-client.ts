const WHY: Record<string, string> = {
  ECONNREFUSED: 'connection refused: nothing listens there',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be resolved',
  ETIMEDOUT: 'the connection timed out',
  ECONNRESET: 'the connection was reset',
  UND_ERR_SOCKET: 'the connection closed',
  EHOSTUNREACH: 'no route to the host',
};

/**
 * fetch says only "fetch failed"; what failed is in its `cause`. Names the URL, the reason, and how
 * to point the CLI elsewhere, without the key.
 */
export async function reach(base: string, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const code = cause?.code;
    const why = code ? `${code}, ${WHY[code] ?? cause?.message ?? 'network error'}` : (cause?.message ?? (error as Error).message);
    throw new Error(`cannot reach the hub at ${base} (${why}). Is it running (aurum start)? Point to another with --url or AURUM_URL.`);
  }
}

/** The hub a CLI command talks to, and the API key it sends: from the options, else the environment. */
export function hubOf(options: { url?: string; key?: string }): { base: string; key: string } {
  const base = (options.url ?? process.env['AURUM_URL'] ?? `http://localhost:${process.env['PORT'] ?? 3000}`).replace(/\/+$/, '');
  const key = options.key ?? process.env['AURUM_API_KEY'];
  if (!key) throw new Error('give an API key: --key or AURUM_API_KEY');
  return { base, key };
}

/** The hub's JSON answer, or an error that says what came back instead (a proxy's page, a connection cut short). */
export async function answerOf<T>(response: Response): Promise<T> {
  const text = await response.text();
  let answer: T & { error?: { code: string; message: string } };
  try {
    answer = JSON.parse(text);
  } catch {
    throw new Error(
      `the hub answered ${response.status} ${response.statusText}${text ? `: ${text.slice(0, 200)}` : ' with an empty body'}`,
    );
  }
  if (!response.ok) throw new Error(`${answer.error?.code ?? response.status}: ${answer.error?.message ?? 'the request failed'}`);
  return answer;
}
