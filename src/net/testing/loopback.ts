// Test egress: the default address policy with loopback opened, for tests whose receivers listen on 127.0.0.1.
import { AddressPolicy } from "../address-policy.ts";
import { Egress } from "../egress.ts";

/** Loopback ranges the test controllers and unit tests allow (the e2e launcher passes the same to --egress-allow). */
export const LOOPBACK_RANGES = ["127.0.0.0/8", "::1/128"] as const;

/** An {@link Egress} whose policy admits loopback; everything else as in production. */
export function loopbackEgress(): Egress {
  return new Egress({ policy: new AddressPolicy({ allow: [...LOOPBACK_RANGES] }) });
}
