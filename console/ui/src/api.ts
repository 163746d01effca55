// The page's only way to the server: same-origin fetches with the session cookie; every action
// carries the session's CSRF token (from /api/me) in a header. No token of the IdP ever reaches here.
export interface Me {
  sub: string;
  role: 'operator' | 'auditor';
  csrf: string;
}

/** A refusal of the API: its HTTP status and the console's error code (console/http/http-kit.ts). */
export type ApiError = Error & { status: number; code: string };

export function isApiError(error: unknown, status: number): error is ApiError {
  return error instanceof Error && (error as Partial<ApiError>).status === status;
}

/**
 * Dispatched on the window when the API refuses the page's session (it ended, was signed out
 * elsewhere, or the console restarted): the page shows the sign-in instead of each request's refusal.
 */
export const SESSION_ENDED = 'bulkhead:session-ended';

async function answer<T>(response: Response): Promise<T> {
  const body = (await response.json().catch(() => ({}))) as { error?: string; message?: string };
  if (response.status === 401 && body.error === 'sign_in_required') dispatchEvent(new Event(SESSION_ENDED));
  if (!response.ok)
    throw Object.assign(new Error(body.message ?? response.statusText), {
      status: response.status,
      code: body.error ?? 'error',
    });
  return body as T;
}

export async function get<T>(path: string): Promise<T> {
  return answer<T>(
    await fetch(path, { credentials: 'same-origin', headers: { accept: 'application/json' } }),
  );
}

export async function post<T>(me: Me, path: string, body: unknown): Promise<T> {
  return answer<T>(
    await fetch(path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': me.csrf, accept: 'application/json' },
      body: JSON.stringify(body),
    }),
  );
}
