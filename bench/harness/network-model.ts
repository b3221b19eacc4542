/**
 * The emulated mobile network between a simulated vehicle and the broker (kernel netem is not
 * available here, so the delay relay applies it in user space): a one-way delay per chunk drawn
 * from a distribution, retransmission delays for lost segments, and brief outages that end in a
 * reset. Plain data, so it crosses IPC to the device workers.
 */

/** One radio link: one-way delay normal(meanMs, sdMs) truncated at 0; sdMs 0 is a fixed delay. */
export interface LinkProfile {
  name: string;
  /** Share of connections on this link (the shares of a model add up to 1). */
  share: number;
  meanMs: number;
  sdMs: number;
}

export interface NetworkModel {
  /** As given on the command line, for the record. */
  name: string;
  /** Empty: no emulated network (devices dial the broker directly). */
  links: LinkProfile[];
  /** Probability that a chunk is lost once and waits for TCP's retransmission. */
  lossRate: number;
  /** What a loss adds to a chunk's delay: Linux's minimum retransmission timeout. */
  retransmitMs: number;
  /** Mean seconds between outages per connection (exponential); 0: none. */
  outageEveryS: number;
  /** An outage freezes the link for a duration in this range, then resets the connection. */
  outageMs: [min: number, max: number];
}

export const NO_NETWORK: NetworkModel = { name: 'none', links: [], lossRate: 0, retransmitMs: 200, outageEveryS: 0, outageMs: [0, 0] };

/** The 4G/5G mix: overall one-way delay 50 ms mean, σ about 16 ms (the two modes widen it). */
const MIX_LINKS: LinkProfile[] = [
  { name: '5G', share: 0.4, meanMs: 35, sdMs: 8 },
  { name: '4G', share: 0.6, meanMs: 60, sdMs: 12 },
];

export const NETWORK_USAGE = `none | fixed:<ms> | normal:<mean>,<sd> | mix (4G/5G: 60% 4G normal 60/12 ms, 40% 5G normal 35/8 ms)`;

/**
 * Parses `--network`: `none`, `fixed:<ms>`, `normal:<mean>,<sd>` or `mix`; loss and outages come
 * from their own flags. Throws a one-line error naming the flag.
 */
export function parseNetwork(text: string, extras: { lossRate: number; outageEveryS: number; outageMs: [number, number] }): NetworkModel {
  const [kind, arg = ''] = text.split(':', 2);
  const numbers = arg.split(',').map((s) => Number(s.trim()));
  const bad = (): never => {
    throw new Error(`--network must be ${NETWORK_USAGE}; got ${JSON.stringify(text)}`);
  };
  const valid = (n: number | undefined): n is number => n !== undefined && Number.isFinite(n) && n >= 0 && n <= 60_000;
  let links: LinkProfile[];
  switch (kind) {
    case 'none':
      return { ...NO_NETWORK };
    case 'fixed':
      if (numbers.length !== 1 || !valid(numbers[0])) bad();
      links = [{ name: 'fixed', share: 1, meanMs: numbers[0]!, sdMs: 0 }];
      break;
    case 'normal':
      if (numbers.length !== 2 || !valid(numbers[0]) || !valid(numbers[1])) bad();
      links = [{ name: 'normal', share: 1, meanMs: numbers[0]!, sdMs: numbers[1]! }];
      break;
    case 'mix':
      if (arg !== '') bad();
      links = MIX_LINKS.map((l) => ({ ...l }));
      break;
    default:
      return bad();
  }
  return { name: text, links, retransmitMs: NO_NETWORK.retransmitMs, ...extras };
}

/** A uniform random number in [0, 1). */
export type Random = () => number;

/** mulberry32: a small seeded generator, so that a sampler can be checked deterministically. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The network as one connection sees it: its radio link is drawn once, its delays per chunk. */
export class LinkSampler {
  readonly link: LinkProfile | undefined;

  constructor(
    private readonly model: NetworkModel,
    private readonly random: Random = Math.random,
  ) {
    this.link = pickLink(model.links, random());
  }

  /** One chunk's one-way delay in ms, retransmission included when the chunk is "lost". */
  delayMs(): number {
    if (!this.link) return 0;
    const base = truncatedNormal(this.link.meanMs, this.link.sdMs, this.random);
    return this.model.lossRate > 0 && this.random() < this.model.lossRate ? base + this.model.retransmitMs + truncatedNormal(this.link.meanMs, this.link.sdMs, this.random) : base;
  }

  /** Ms until this connection's next outage, or undefined when the model has none. */
  nextOutageInMs(): number | undefined {
    if (!(this.model.outageEveryS > 0)) return undefined;
    return -Math.log(1 - this.random()) * this.model.outageEveryS * 1000;
  }

  outageLengthMs(): number {
    const [min, max] = this.model.outageMs;
    return min + (max - min) * this.random();
  }
}

function pickLink(links: LinkProfile[], u: number): LinkProfile | undefined {
  let acc = 0;
  for (const l of links) {
    acc += l.share;
    if (u < acc) return l;
  }
  return links[links.length - 1];
}

/** Normal(mean, sd) by Box–Muller, drawn again while negative (a delay is never below 0). */
export function truncatedNormal(mean: number, sd: number, random: Random): number {
  if (sd <= 0) return Math.max(0, mean);
  for (let i = 0; i < 16; i++) {
    const u = 1 - random();
    const v = random();
    const x = mean + sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    if (x >= 0) return x;
  }
  return 0;
}
