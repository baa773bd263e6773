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

/** What a JSON record says of its run (pm2's process_id and app_name). */
export interface JsonLogOwner {
  id: number;
  name: string;
}

/**
 * pm2's log_type json: each line of a chunk (and a line's piece a chunk ends with) becomes one
 * {"message","timestamp","type","process_id","app_name"} line, the message as printed (with its
 * newline), the timestamp ISO or in log_date_format. Nothing is held back, so nothing is lost.
 */
export class JsonLines {
  constructor(private readonly type: 'out' | 'err', private readonly owner: JsonLogOwner, private readonly format: string | null,
    private readonly now: () => Date = () => new Date()) {}

  transform(chunk: Buffer): Buffer {
    if (chunk.length === 0) return chunk;
    const at = this.now();
    const timestamp = this.format === null ? at.toISOString() : dayjs(at).format(this.format);
    const records: string[] = [];
    let from = 0;
    while (from < chunk.length) {
      const nl = chunk.indexOf(0x0a, from);
      const end = nl === -1 ? chunk.length : nl + 1;
      const message = chunk.subarray(from, end).toString('utf8');
      records.push(`${JSON.stringify({ message, timestamp, type: this.type, process_id: this.owner.id, app_name: this.owner.name })}\n`);
      from = end;
    }
    return Buffer.from(records.join(''));
  }
}
