// pm2's time / log_date_format: every line a service prints is written as "<time>: <line>", the
// time formatted with dayjs as pm2 does (lib/God/ForkMode.js); `time` alone uses pm2's format
// YYYY-MM-DDTHH:mm:ss. Lines are found across chunks: a line cut between two reads gets one prefix.
import dayjs from 'dayjs';

/** pm2's format when only `time` is set (lib/Common.js). */
export const PM2_TIME_FORMAT = 'YYYY-MM-DDTHH:mm:ss';

/** The format a config asks for, or null for no prefix (pm2: a log_date_format alone turns it on too). */
export function stampFormatOf(c: { time: boolean; logDateFormat: string }): string | null {
  if (c.logDateFormat !== '') return c.logDateFormat;
  return c.time ? PM2_TIME_FORMAT : null;
}

/** Prefixes lines of one stream; keeps whether the last chunk ended mid-line. */
export class LineStamper {
  private atLineStart = true;

  constructor(private readonly format: string, private readonly now: () => Date = () => new Date()) {}

  /** The chunk with "<time>: " before each line that starts in it. */
  transform(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const prefix = Buffer.from(`${dayjs(this.now()).format(this.format)}: `);
    const parts: Buffer[] = [];
    let from = 0;
    while (from < chunk.length) {
      if (this.atLineStart) parts.push(prefix);
      const nl = chunk.indexOf(0x0a, from);
      const end = nl === -1 ? chunk.length : nl + 1;
      parts.push(chunk.subarray(from, end));
      this.atLineStart = nl !== -1;
      from = end;
    }
    return Buffer.concat(parts);
  }
}
