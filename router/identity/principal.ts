// Who is calling, as established from a verified access token and nothing else.
export interface Principal {
  tenant: string;
  /** The human user (`sub`), or null for an agent acting alone (client credentials). */
  user: string | null;
  /** The OAuth client acting: `client_id` (or `azp`). */
  agent: string;
  /**
   * The delegation chain of an RFC 8693 token-exchange token (`act` claim), current actor first,
   * then the actors it acts for; empty for a token that was not exchanged.
   */
  actors: string[];
  scopes: string[];
  /** The user's roles in the tenant, from the roles claim its issuer binding names; empty for agents alone. */
  roles: string[];
  issuer: string;
  tokenId: string | undefined;
  /** When the router stops accepting the token, in seconds: its `exp`, or `iat` plus the maximum age if sooner. */
  expiresAt: number;
}
