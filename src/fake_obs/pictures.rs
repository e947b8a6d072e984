//! The simulated GetSourceScreenshot, with obs-websocket 5.5's fields, bounds, codes and comments
//! (RequestHandler_Sources.cpp): a scene or an input by name, `imageFormat` one of the formats Qt
//! can write, `imageWidth`/`imageHeight` 8..=4096, `imageCompressionQuality` -1..=100.
//!
//! The picture is a flat grey whose shade comes from the source's name, so the program picture
//! changes when the program scene does. It is a real, decodable image: PNG (stored deflate
//! blocks) or baseline greyscale JPEG (one DC code per block, all AC coefficients zero); other
//! formats Qt accepts are answered as PNG bytes under their name, enough for a fake.

use base64::Engine;
use serde_json::{json, Map, Value};

use super::protocol::status;
use super::state::{ObsState, Outcome, SUPPORTED_IMAGE_FORMATS};

pub const REQUESTS: &[&str] = &["GetSourceScreenshot"];

/// obs-websocket's bounds for the image's sides.
const SIDE: std::ops::RangeInclusive<i64> = 8..=4096;
/// OBS's size when none is asked: the base canvas (1920x1080) would make large fakes; a
/// small canvas keeps tests fast and is still a valid answer.
const DEFAULT_SIZE: (u32, u32) = (64, 36);

fn field<'a>(data: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a Value> {
    data.and_then(|d| d.get(key))
        .filter(|value| !value.is_null())
}

fn number_in(
    data: Option<&Map<String, Value>>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Result<Option<i64>, Outcome> {
    let Some(value) = field(data, key) else {
        return Ok(None);
    };
    let number = value.as_f64().ok_or_else(|| {
        Outcome::error(
            status::INVALID_REQUEST_FIELD_TYPE,
            Some(format!("The field value of `{key}` must be a number.")),
        )
    })?;
    if number < *range.start() as f64 {
        return Err(Outcome::error(
            status::REQUEST_FIELD_OUT_OF_RANGE,
            Some(format!(
                "The field value of `{key}` is below the minimum of `{:.6}`",
                *range.start() as f64
            )),
        ));
    }
    if number > *range.end() as f64 {
        return Err(Outcome::error(
            status::REQUEST_FIELD_OUT_OF_RANGE,
            Some(format!(
                "The field value of `{key}` is above the maximum of `{:.6}`",
                *range.end() as f64
            )),
        ));
    }
    Ok(Some(number as i64))
}

/// Answers GetSourceScreenshot.
pub fn screenshot(state: &ObsState, data: Option<&Map<String, Value>>) -> Result<Outcome, Outcome> {
    let name = match field(data, "sourceName").and_then(Value::as_str) {
        Some(name) => name,
        None if field(data, "sourceUuid").is_some() => {
            return Err(Outcome::error(
                status::RESOURCE_NOT_FOUND,
                Some("No source was found by that UUID.".into()),
            ))
        }
        None => {
            return Err(Outcome::error(
                status::MISSING_REQUEST_FIELD,
                Some("Your request is missing the `sourceName` field.".into()),
            ))
        }
    };
    if !state.has_source(name) {
        return Err(Outcome::error(
            status::RESOURCE_NOT_FOUND,
            Some(format!("No source was found by the name of `{name}`.")),
        ));
    }
    let format = field(data, "imageFormat")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            Outcome::error(
                status::MISSING_REQUEST_FIELD,
                Some("Your request is missing the `imageFormat` field.".into()),
            )
        })?;
    if !SUPPORTED_IMAGE_FORMATS.contains(&format) {
        return Err(Outcome::error(
            status::INVALID_REQUEST_FIELD,
            Some("Your specified image format is invalid or not supported by this system.".into()),
        ));
    }
    let width = number_in(data, "imageWidth", SIDE)?;
    let height = number_in(data, "imageHeight", SIDE)?;
    number_in(data, "imageCompressionQuality", -1..=100)?;
    // One side given: the other follows the 16:9 canvas, as OBS keeps the aspect ratio.
    let (width, height) = match (width, height) {
        (Some(w), Some(h)) => (w as u32, h as u32),
        (Some(w), None) => (w as u32, (w as u32 * 9 / 16).max(1)),
        (None, Some(h)) => ((h as u32 * 16 / 9).max(1), h as u32),
        (None, None) => DEFAULT_SIZE,
    };
    let shade = shade_of(name);
    let (mime, bytes) = match format {
        "jpg" | "jpeg" => ("jpeg", jpeg(width, height, shade)),
        other => (other, png(width, height, shade)),
    };
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    Ok(Outcome::success(Some(json!({
        "imageData": format!("data:image/{mime};base64,{encoded}")
    }))))
}

/// A grey level per name (FNV-1a folded to a byte).
pub fn shade_of(name: &str) -> u8 {
    let hash = name.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    (hash ^ (hash >> 8) ^ (hash >> 16) ^ (hash >> 24)) as u8
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffff_u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A greyscale PNG, its pixels in stored (uncompressed) deflate blocks.
fn png(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let row = 1 + width as usize;
    let mut raw = Vec::with_capacity(row * height as usize);
    for _ in 0..height {
        raw.push(0); // filter: none
        raw.extend(std::iter::repeat_n(shade, width as usize));
    }
    let mut zlib = vec![0x78, 0x01];
    let mut blocks = raw.chunks(65_535).peekable();
    while let Some(block) = blocks.next() {
        zlib.push(u8::from(blocks.peek().is_none()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1_u32, 0_u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    png_chunk(&mut out, b"IHDR", &header);
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// Bits into entropy-coded bytes, with JPEG's 0xFF stuffing and 1-padding.
struct BitWriter {
    bytes: Vec<u8>,
    current: u32,
    count: u32,
}

impl BitWriter {
    fn put(&mut self, value: u32, bits: u32) {
        for bit in (0..bits).rev() {
            self.current = (self.current << 1) | ((value >> bit) & 1);
            self.count += 1;
            if self.count == 8 {
                let byte = self.current as u8;
                self.bytes.push(byte);
                if byte == 0xff {
                    self.bytes.push(0);
                }
                self.current = 0;
                self.count = 0;
            }
        }
    }

    fn finish(mut self) -> Vec<u8> {
        while self.count != 0 {
            self.put(1, 1);
        }
        self.bytes
    }
}

/// A baseline greyscale JPEG of one shade: quantisation 1, a DC table holding only the codes
/// for "no change" (`0`) and the first block's size category (`10`), an AC table holding only
/// end-of-block (`0`).
fn jpeg(width: u32, height: u32, shade: u8) -> Vec<u8> {
    // The DC coefficient of a flat 8x8 block is 8 * (level - 128).
    let dc = 8 * (i32::from(shade) - 128);
    let category = 32 - dc.unsigned_abs().leading_zeros();
    let mut out = vec![0xff, 0xd8];
    let mut segment = |marker: u8, data: &[u8]| {
        out.extend_from_slice(&[0xff, marker]);
        out.extend_from_slice(&((data.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(data);
    };
    let mut quant = vec![0_u8];
    quant.extend_from_slice(&[1; 64]);
    segment(0xdb, &quant);
    let mut frame = vec![8];
    frame.extend_from_slice(&(height as u16).to_be_bytes());
    frame.extend_from_slice(&(width as u16).to_be_bytes());
    frame.extend_from_slice(&[1, 1, 0x11, 0]);
    segment(0xc0, &frame);
    let mut dc_table = vec![0x00, 1, 1];
    dc_table.extend_from_slice(&[0; 14]);
    dc_table.extend_from_slice(&[0, category as u8]);
    segment(0xc4, &dc_table);
    let mut ac_table = vec![0x10, 1];
    ac_table.extend_from_slice(&[0; 15]);
    ac_table.push(0x00);
    segment(0xc4, &ac_table);
    segment(0xda, &[1, 1, 0x00, 0, 63, 0]);
    let blocks = width.div_ceil(8) * height.div_ceil(8);
    let mut bits = BitWriter {
        bytes: Vec::new(),
        current: 0,
        count: 0,
    };
    for block in 0..blocks {
        if block == 0 && category > 0 {
            bits.put(0b10, 2);
            // Negative values are sent as their ones' complement in `category` bits.
            let value = if dc < 0 { dc - 1 } else { dc } as u32;
            bits.put(value & ((1 << category) - 1), category);
        } else {
            bits.put(0, 1);
        }
        bits.put(0, 1); // end of block
    }
    out.extend_from_slice(&bits.finish());
    out.extend_from_slice(&[0xff, 0xd9]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_png_specification_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
    }

    #[test]
    fn images_have_their_format_markers_and_differ_by_shade() {
        let png = png(16, 9, 10);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.ends_with(&[0xae, 0x42, 0x60, 0x82]));
        let jpeg_a = jpeg(16, 9, 10);
        assert!(jpeg_a.starts_with(&[0xff, 0xd8]) && jpeg_a.ends_with(&[0xff, 0xd9]));
        assert_ne!(jpeg_a, jpeg(16, 9, 200));
        assert_ne!(shade_of("Scene"), shade_of("Live"));
    }
}
