//! A cheap pass over a file's element headers, before dicom-rs reads it for real: every declared
//! value length must fit in the file. dicom-rs reserves and zero-fills a value's declared length
//! before reading it, so a 2 KB file declaring a 3 GB element costs 3 GB of memory (the fuzzer
//! found such files taking a second and 1.5 GB each). The walk uses dicom-rs's own tokenizer for
//! the data set; only the file meta group (always explicit VR little endian, PS3.10 §7.1) is
//! stepped through here, header by header, because dicom-rs reads it in one call.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_parser::dataset::lazy_read::LazyDataSetReader;
use dicom_parser::dataset::{DataSetReader, DataToken, LazyDataToken};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

/// The largest expansion of deflate (RFC 1951: about 1032:1), bounding inflated data sets.
const DEFLATE_EXPANSION: u64 = 1032;

/// Checks that no element of the file at `path` (up to `until`) declares more bytes than the
/// file can hold.
/// Files that are not DICOM, or that the tokenizer cannot follow, pass: dicom-rs reports
/// them itself, and it stops at the same place this walk does.
pub(super) fn check_declared_lengths(path: &Path, until: Until) -> std::result::Result<(), String> {
    let file = File::open(path).map_err(|e| format!("cannot open: {e}"))?;
    let file_len = file.metadata().map_err(|e| format!("cannot stat: {e}"))?.len();
    let mut reader = BufReader::new(file);
    let mut magic = [0u8; 132];
    if reader.read_exact(&mut magic).is_err() {
        return Ok(());
    }
    let meta_start = if &magic[128..132] == b"DICM" {
        132
    } else if &magic[0..4] == b"DICM" {
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
    match ts.codec() {
        // Deflated data sets cannot seek: the eager tokenizer reads values, each bounded.
        Codec::Dataset(Some(adapter)) => {
            check.limit = file_len.saturating_mul(DEFLATE_EXPANSION);
            let Ok(tokens) = DataSetReader::new_with_ts(adapter.adapt_reader(Box::new(reader)), ts) else {
                return Ok(());
            };
            for token in tokens {
                let Ok(token) = token else { return Ok(()) };
                if check.token(&token)? == Flow::Stop {
                    break;
                }
            }
        }
        // Otherwise values are skipped unread, without allocating.
        _ => {
            let Ok(mut tokens) = LazyDataSetReader::new_with_ts(reader, ts) else {
                return Ok(());
            };
            while let Some(Ok(token)) = tokens.advance() {
                let flow = match &token {
                    LazyDataToken::ElementHeader(h) => check.token(&DataToken::ElementHeader(*h))?,
                    LazyDataToken::SequenceStart { tag, len } => {
                        check.token(&DataToken::SequenceStart { tag: *tag, len: *len })?
                    }
                    LazyDataToken::PixelSequenceStart => check.token(&DataToken::PixelSequenceStart)?,
                    LazyDataToken::SequenceEnd => check.token(&DataToken::SequenceEnd)?,
                    LazyDataToken::ItemStart { len } => check.token(&DataToken::ItemStart { len: *len })?,
                    _ => Flow::Go,
                };
                if flow == Flow::Stop || token.skip().is_err() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// How far [`check_declared_lengths`] walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Until {
    /// Up to the pixel data's header: what a header-only read (`scan`) parses.
    PixelData,
    /// The whole file: what loading the pixels parses.
    End,
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
    fn token(&mut self, token: &DataToken) -> std::result::Result<Flow, String> {
        let (what, len) = match token {
            DataToken::ElementHeader(header) => {
                if self.until == Until::PixelData
                    && self.depth == 0
                    && header.tag == dicom_dictionary_std::tags::PIXEL_DATA
                {
                    self.fits(&format!("element {}", header.tag), header.len)?;
                    return Ok(Flow::Stop);
                }
                (format!("element {}", header.tag), header.len)
            }
            DataToken::SequenceStart { tag, len } => {
                self.depth += 1;
                (format!("sequence {tag}"), *len)
            }
            DataToken::PixelSequenceStart => {
                self.depth += 1;
                return Ok(if self.until == Until::PixelData && self.depth == 1 {
                    Flow::Stop
                } else {
                    Flow::Go
                });
            }
            DataToken::ItemStart { len } => ("an item".to_string(), *len),
            DataToken::SequenceEnd => {
                self.depth = self.depth.saturating_sub(1);
                return Ok(Flow::Go);
            }
            _ => return Ok(Flow::Go),
        };
        self.fits(&what, len)?;
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

/// Steps through the file meta group (explicit VR little endian headers) as dicom-rs reads it —
/// until the group length (0002,0000) is consumed — checking each declared length, and returns
/// the transfer syntax UID (0002,0010) if one was found.
fn walk_meta_group(reader: &mut BufReader<File>, file_len: u64) -> std::result::Result<Option<String>, String> {
    let mut ts_uid = None;
    let mut group_end: Option<u64> = None;
    let mut consumed = 0u64;
    loop {
        if let Some(end) = group_end
            && consumed >= end
        {
            return Ok(ts_uid);
        }
        let mut head = [0u8; 8];
        if reader.read_exact(&mut head).is_err() {
            return Ok(ts_uid);
        }
        let group = u16::from_le_bytes([head[0], head[1]]);
        let element = u16::from_le_bytes([head[2], head[3]]);
        if group != 0x0002 && group_end.is_none() {
            // No group length: dicom-rs refuses the file itself, and the data set's start is
            // unknown, so there is nothing more to check.
            return Ok(None);
        }
        // PS3.5 §7.1.2: these VRs have two reserved bytes and a 32-bit length.
        let long = matches!(
            &head[4..6],
            b"OB" | b"OD" | b"OF" | b"OL" | b"OV" | b"OW" | b"SQ" | b"SV" | b"UC" | b"UN" | b"UR" | b"UT" | b"UV"
        );
        let (len, header_len) = if long {
            let mut l = [0u8; 4];
            if reader.read_exact(&mut l).is_err() {
                return Ok(ts_uid);
            }
            (u64::from(u32::from_le_bytes(l)), 12)
        } else {
            (u64::from(u16::from_le_bytes([head[6], head[7]])), 8)
        };
        if len > file_len {
            return Err(format!(
                "file meta element ({group:04X},{element:04X}) declares {len} bytes but the file holds {file_len}: corrupt, refused before allocating"
            ));
        }
        let mut value = vec![0u8; len as usize];
        if reader.read_exact(&mut value).is_err() {
            return Ok(ts_uid);
        }
        match (group, element) {
            (0x0002, 0x0000) if value.len() == 4 => {
                // Counted from the end of the group length element itself.
                group_end = Some(
                    consumed
                        + header_len
                        + len
                        + u64::from(u32::from_le_bytes([value[0], value[1], value[2], value[3]])),
                );
            }
            (0x0002, 0x0010) => {
                ts_uid = Some(
                    String::from_utf8_lossy(&value)
                        .trim_end_matches(['\0', ' '])
                        .to_string(),
                );
            }
            _ => {}
        }
        consumed += header_len + len;
    }
}
