import { describe, expect, it } from 'vitest';
import { parseContentType, parseMultipart } from './http-body.js';

/** Multipart bytes as the platform's own encoder (undici's FormData) writes them: an independent writer. */
async function encodeForm(form: FormData): Promise<{ body: Buffer; contentType: string }> {
  const response = new Response(form);
  return { body: Buffer.from(await response.arrayBuffer()), contentType: response.headers.get('content-type')! };
}

describe('parseMultipart', () => {
  it('finds fields and files written by FormData, byte for byte', async () => {
    const bytes = new Uint8Array(300).map((_, i) => (i * 37) % 256);
    bytes.set([13, 10, 45, 45], 100); // CR LF - - inside the data must not confuse the parser
    const form = new FormData();
    form.append('note', 'hello');
    form.append('image', new Blob([bytes], { type: 'image/png' }), 'a b.png');
    const { body, contentType } = await encodeForm(form);
    const ct = parseContentType(contentType);
    expect(ct.mediaType).toBe('multipart/form-data');
    const parts = parseMultipart(body, ct.params['boundary']);
    expect(parts.map((p) => [p.name, p.filename, p.contentType])).toEqual([
      ['note', null, 'text/plain'],
      ['image', 'a b.png', 'image/png'],
    ]);
    expect(parts[0]!.data.toString()).toBe('hello');
    expect(Buffer.compare(parts[1]!.data, Buffer.from(bytes))).toBe(0);
  });

  it('names what is wrong with a malformed body', () => {
    expect(() => parseMultipart(Buffer.from('x'), undefined)).toThrow(/boundary parameter/);
    expect(() => parseMultipart(Buffer.from('no delimiter here'), 'abc')).toThrow(/never occurs/);
    expect(() => parseMultipart(Buffer.from('--abc\r\nContent-Disposition: form-data; name="a"\r\n\r\ndata'), 'abc')).toThrow(/not closed/);
  });
});

describe('parseContentType', () => {
  it('lower-cases the media type and unquotes parameters', () => {
    expect(parseContentType('Image/PNG')).toEqual({ mediaType: 'image/png', params: {} });
    expect(parseContentType('multipart/form-data; boundary="x y"')).toEqual({ mediaType: 'multipart/form-data', params: { boundary: 'x y' } });
    expect(parseContentType(undefined).mediaType).toBe('');
  });
});
