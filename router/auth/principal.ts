// Who is calling, as established from a verified access token and nothing else.
export interface Principal {
  tenant: string;
  /** The human user (`sub`), or null for an agent acting alone (client credentials). */
  user: string | null;
  /** The OAuth client acting: `client_id` (or `azp`). */
  agent: string;
  scopes: string[];
  issuer: string;
  tokenId: string | undefined;
  expiresAt: number;
}
