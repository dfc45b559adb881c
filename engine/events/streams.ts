/**
 * Stream names, one per aggregate, category-id form as KurrentDB expects (DESIGN §3).
 *
 * @example
 * saStream('7f3a') // 'sa-7f3a'
 */
export const saStream = (id: string) => `sa-${id}`;
export const ikeStream = (id: string) => `ike-${id}`;
export const policyStream = (id: string) => `policy-${id}`;
export const nicStream = (name: string) => `nic-${name}`;
export const acquireStream = (id: string) => `acquire-${id}`;

/** The aggregate category and id of a stream name; undefined when it is not one of ours. */
export function parseStreamName(name: string): { category: 'sa' | 'ike' | 'policy' | 'nic' | 'acquire'; id: string } | undefined {
  const m = /^(sa|ike|policy|nic|acquire)-(.+)$/.exec(name);
  return m ? { category: m[1] as 'sa', id: m[2]! } : undefined;
}
