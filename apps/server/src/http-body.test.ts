import { describe, expect, it } from 'vitest';
import { parseContentType } from './http-body.js';

describe('parseContentType', () => {
  it('lower-cases the media type and unquotes parameters', () => {
    expect(parseContentType('Image/PNG')).toEqual({ mediaType: 'image/png', params: {} });
    expect(parseContentType('multipart/form-data; boundary="x y"')).toEqual({ mediaType: 'multipart/form-data', params: { boundary: 'x y' } });
    expect(parseContentType(undefined).mediaType).toBe('');
  });
});
