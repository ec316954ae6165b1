// A real OpenID provider for the browser tests: npm `oidc-provider` (a
// certified implementation) with its development login screen, one client
// for Parley, PKCE required, and claims in the ID token. Any login works;
// the account's email is the login if it has an @, else login@example.com,
// and it is in the group "chat" unless its name starts with "outsider".
//
//   node oidc-provider.mjs <port> <parley redirect URI>

import Provider from "oidc-provider";

const [port, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "parley",
      client_secret: "parley-test-secret",
      redirect_uris: [redirectUri],
      response_types: ["code"],
      grant_types: ["authorization_code"],
    },
  ],
  pkce: { required: () => true },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["preferred_username", "name", "groups"],
  },
  // The claims go in the ID token (Parley reads no userinfo).
  conformIdTokenClaims: false,
  async findAccount(_ctx, id) {
    const email = id.includes("@") ? id : `${id}@example.com`;
    const name = email.split("@")[0];
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email,
          email_verified: true,
          preferred_username: name,
          name,
          groups: name.startsWith("outsider") ? [] : ["chat"],
        };
      },
    };
  },
  // Short, so a test can let a code expire.
  ttl: { AuthorizationCode: 5 },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["parley-e2e-only"] },
});
provider.proxy = false;
provider.listen(Number(port), "127.0.0.1", () => {
  console.log(`OIDC provider ready at ${issuer}`);
});
