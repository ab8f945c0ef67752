//! A cheap pass over a file's element headers, before dicom-rs reads it for real: every declared
//! value length must fit in the file. dicom-rs reserves and zero-fills a value's declared length
//! before reading it, so a 2 KB file declaring a 3 GB element costs 3 GB of memory (the fuzzer
//! found such files taking a second and 1.5 GB each). The walk uses dicom-rs's own tokenizer for
//! the data set, and its explicit VR little endian header decoder for the file meta group
//! (PS3.10 §7.1), which dicom-rs reads in one call.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use dicom_core::Tag;
use dicom_encoding::decode::Decode;
use dicom_encoding::decode::explicit_le::ExplicitVRLittleEndianDecoder;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_parser::dataset::{DataSetReader, DataToken};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// The largest expansion of deflate (RFC 1951: about 1032:1), bounding inflated data sets.
const DEFLATE_EXPANSION: u64 = 1032;

/// Checks that no element of the file at `path` (up to `until`) declares more bytes than the
/// file can hold. Returns a note when the file has no 128-byte preamble before `DICM` (which
/// dicom-rs reads, but which breaks the standard).
/// Files that are not DICOM, or that the tokenizer cannot follow, pass: dicom-rs reports
/// them itself, and it stops at the same place this walk does.
pub(super) fn check_declared_lengths(path: &Path, until: Until) -> std::result::Result<Option<String>, String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let file_len = file.metadata().map_err(|e| format!("cannot stat: {e}"))?.len();
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 4];
    let bare = reader.read_exact(&mut magic).is_ok() && &magic == b"DICM";
    reader.seek(SeekFrom::Start(0)).map_err(|e| e.to_string())?;
    check_source(reader, file_len, until)?;
    Ok(bare.then(|| "no 128-byte preamble before the DICM prefix".to_string()))
}

fn check_source<R: Read + Seek>(mut reader: R, file_len: u64, until: Until) -> std::result::Result<(), String> {
    // dicom-object's preamble detection: `DICM` at 128 when the file holds 132 bytes, else at 0
    // (files shorter than 132 bytes included: a 131-byte file once declared a 1.2 GB UID).
    let mut magic = Vec::with_capacity(132);
    reader
        .by_ref()
        .take(132)
        .read_to_end(&mut magic)
        .map_err(|e| e.to_string())?;
    let meta_start = if magic.len() == 132 && &magic[128..132] == b"DICM" {
        132
    } else if magic.len() >= 4 && &magic[0..4] == b"DICM" {
        4
    } else {
        return Ok(());
    };
    reader.seek(SeekFrom::Start(meta_start)).map_err(|e| e.to_string())?;
    let Some(ts_uid) = walk_meta_group(&mut reader, file_len)? else {
        return Ok(());
    };
    let Some(ts) = TransferSyntaxRegistry.get(&ts_uid) else {
        return Ok(());
    };
    let mut check = Checker {
        file_len,
        limit: file_len,
        depth: 0,
        until,
    };
    // The same tokenizer, with the same options, that dicom-object's `open_file` builds: it
    // yields each header before it reads (and allocates) the value, so every length is checked
    // first, and both walks see the same elements.
    let start = reader.stream_position().map_err(|e| e.to_string())?;
    let consumed = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let counted = Counted {
        inner: reader,
        consumed: consumed.clone(),
    };
    let deflated = matches!(ts.codec(), Codec::Dataset(Some(_)));
    let source: Box<dyn Read> = match ts.codec() {
        Codec::Dataset(Some(adapter)) => {
            // Deflated data sets: values may expand up to deflate's ratio.
            check.limit = file_len.saturating_mul(DEFLATE_EXPANSION);
            adapter.adapt_reader(Box::new(counted))
        }
        _ => Box::new(counted),
    };
    let Ok(tokens) = DataSetReader::new_with_ts(source, ts) else {
        return Ok(());
    };
    for token in tokens {
        let Ok(token) = token else { return Ok(()) };
        if check.token(&token)? == Flow::Stop {
            break;
        }
        // Native pixel data that ends the file: nothing follows to check, and its value
        // need not be read (the common case; it saves reading every file twice).
        if let DataToken::ElementHeader(h) = &token
            && !deflated
            && check.depth == 0
            && h.tag == dicom_dictionary_std::tags::PIXEL_DATA
            && h.len
                .get()
                .is_some_and(|len| start + consumed.get() + u64::from(len) == file_len)
        {
            break;
        }
    }
    Ok(())
}

/// A reader that counts the bytes taken from it (the tokenizer's position in the file).
pub(super) struct Counted<R> {
    pub(super) inner: R,
    pub(super) consumed: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

/// How far [`check_declared_lengths`] walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Until {
    /// Up to the pixel data's header: what a header-only read (`scan`, `read_until`) parses.
    PixelData,
    /// Through the pixel data: what loading the pixels (`read_to`) parses.
    ThroughPixelData,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Go,
    Stop,
}

/// The state of the walk: nesting depth and the bound on any one declared length.
struct Checker {
    file_len: u64,
    limit: u64,
    depth: usize,
    until: Until,
}

impl Checker {
    /// Checks a token; stops where dicom-object's `read_until` / `read_to` stop: at the first
    /// top-level element whose tag reaches (`PixelData`) or passes (`ThroughPixelData`) the
    /// pixel data's — whatever came before, in any order (hostile files put elements with
    /// lower tags after the pixels, and dicom-object reads them).
    fn token(&mut self, token: &DataToken) -> std::result::Result<Flow, String> {
        use dicom_dictionary_std::tags::PIXEL_DATA;
        let stops = |tag: dicom_core::Tag| match self.until {
            Until::PixelData => tag >= PIXEL_DATA,
            Until::ThroughPixelData => tag > PIXEL_DATA,
        };
        let top = self.depth == 0;
        match token {
            DataToken::ElementHeader(header) => {
                if top && stops(header.tag) {
                    return Ok(Flow::Stop);
                }
                self.fits(&format!("element {}", header.tag), header.len)?;
            }
            DataToken::SequenceStart { tag, len } => {
                if top && stops(*tag) {
                    return Ok(Flow::Stop);
                }
                self.fits(&format!("sequence {tag}"), *len)?;
                self.depth += 1;
            }
            DataToken::PixelSequenceStart => {
                if top && stops(PIXEL_DATA) {
                    return Ok(Flow::Stop);
                }
                self.depth += 1;
            }
            DataToken::ItemStart { len } => self.fits("an item", *len)?,
            DataToken::SequenceEnd => self.depth = self.depth.saturating_sub(1),
            _ => {}
        }
        Ok(Flow::Go)
    }

    fn fits(&self, what: &str, len: dicom_core::Length) -> std::result::Result<(), String> {
        match len.get() {
            Some(n) if u64::from(n) > self.limit => Err(format!(
                "{what} declares {n} bytes but the file holds {}: truncated or corrupt, refused before allocating",
                self.file_len
            )),
            _ => Ok(()),
        }
    }
}

/// Steps through the file meta group as dicom-rs reads it — the group length (0002,0000)
/// first, then elements until that many bytes are consumed, headers decoded by dicom-rs's own
/// explicit VR little endian decoder so both walks stay aligned — checking each declared
/// length, and returns the transfer syntax UID (0002,0010). `None` where dicom-rs itself would
/// refuse the group (it then reports the error).
fn walk_meta_group(reader: &mut impl Read, file_len: u64) -> std::result::Result<Option<String>, String> {
    let decoder = ExplicitVRLittleEndianDecoder::default();
    let Ok((first, _)) = decoder.decode_header(reader) else {
        return Ok(None);
    };
    let mut value = [0u8; 4];
    if first.tag != Tag(0x0002, 0x0000) || first.len.get() != Some(4) || reader.read_exact(&mut value).is_err() {
        return Ok(None);
    }
    let group_length = u64::from(u32::from_le_bytes(value));
    let mut ts_uid = None;
    let mut consumed = 0u64;
    while consumed < group_length {
        let Ok((header, header_len)) = decoder.decode_header(reader) else {
            return Ok(None);
        };
        let Some(len) = header.len.get().map(u64::from) else {
            return Ok(None);
        };
        if len > file_len {
            return Err(format!(
                "file meta element {} declares {len} bytes but the file holds {file_len}: corrupt, refused before allocating",
                header.tag
            ));
        }
        if header.tag == Tag(0x0002, 0x0010) {
            let mut uid = vec![0u8; len as usize];
            if reader.read_exact(&mut uid).is_err() {
                return Ok(None);
            }
            ts_uid = Some(String::from_utf8_lossy(&uid).trim_end_matches(['\0', ' ']).to_string());
        } else if std::io::copy(&mut reader.by_ref().take(len), &mut std::io::sink()).ok() != Some(len) {
            return Ok(None);
        }
        consumed += header_len as u64 + len;
    }
    Ok(ts_uid)
}
