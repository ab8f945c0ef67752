//! Reading the files dicom-rs refuses but pydicom, dcmtk and GDCM read: bytes after the pixel
//! data (scanner padding, garbage), no preamble or `DICM` prefix, no file meta group, a
//! missing Transfer Syntax UID, a data set encoded otherwise than its meta header declares,
//! and elements whose VR disagrees with the dictionary (UN, OB, SS for US...). Each repair
//! leaves a note that the loader reports as a warning.
//!
//! The file is walked once with dicom-rs's own tokenizer to find where the data set ends (at
//! or after the pixel data), every declared length checked against the bytes left before a
//! value is read (the allocation bound of `lengths.rs`); dicom-rs then parses exactly those
//! bytes.

use std::borrow::Cow;
use std::io::Cursor;
use std::path::Path;

use dicom_core::header::Header as _;
use dicom_core::value::{PrimitiveValue, Value};
use dicom_core::{DataDictionary, Tag, VR};
use dicom_dictionary_std::{StandardDataDictionary, tags};
use dicom_encoding::decode::Decode;
use dicom_encoding::decode::explicit_le::ExplicitVRLittleEndianDecoder;
use dicom_encoding::transfer_syntax::{Codec, TransferSyntaxIndex};
use dicom_object::mem::InMemElement;
use dicom_object::meta::FileMetaTableBuilder;
use dicom_object::{DefaultDicomObject, InMemDicomObject};
use dicom_parser::dataset::{DataSetReader, DataToken};
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::lengths::{Counted, Until};

const IMPLICIT_LE: &str = "1.2.840.10008.1.2";
const EXPLICIT_LE: &str = "1.2.840.10008.1.2.1";
const EXPLICIT_BE: &str = "1.2.840.10008.1.2.2";

/// The value representations an explicit VR header can carry (PS3.5 §6.2).
const VRS: [&[u8; 2]; 34] = [
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FL", b"FD", b"IS", b"LO", b"LT", b"OB", b"OD", b"OF", b"OL",
    b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM", b"UC", b"UI", b"UL", b"UN", b"UR", b"US",
    b"UT", b"UV",
];

fn syntax_name(uid: &str) -> &'static str {
    match uid {
        IMPLICIT_LE => "implicit VR little endian",
        EXPLICIT_LE => "explicit VR little endian",
        EXPLICIT_BE => "explicit VR big endian",
        _ => "a compressed or other syntax",
    }
}

/// The encoding of a data set from its first element header, as dcmtk guesses it: explicit
/// when bytes 4–5 spell a VR, little endian when the group number reads smaller that way.
fn sniff(data: &[u8]) -> Option<&'static str> {
    let head = data.get(0..6)?;
    let explicit = VRS.iter().any(|vr| vr[..] == head[4..6]);
    let little = u16::from_le_bytes([head[0], head[1]]) <= u16::from_be_bytes([head[0], head[1]]);
    match (explicit, little) {
        (true, true) => Some(EXPLICIT_LE),
        (false, true) => Some(IMPLICIT_LE),
        (true, false) => Some(EXPLICIT_BE),
        (false, false) => None,
    }
}

/// The file meta group as found: its transfer syntax and SOP UIDs, and where the data set
/// starts. Elements are read while their group is 0002, whatever (0002,0000) says.
struct Meta {
    transfer_syntax: Option<String>,
    sop_class: Option<String>,
    sop_instance: Option<String>,
    end: usize,
    present: bool,
}

fn read_meta(bytes: &[u8], start: usize) -> Result<Meta, String> {
    let decoder = ExplicitVRLittleEndianDecoder::default();
    let mut meta = Meta {
        transfer_syntax: None,
        sop_class: None,
        sop_instance: None,
        end: start,
        present: false,
    };
    let mut pos = start;
    while bytes.len() >= pos + 8 && u16::from_le_bytes([bytes[pos], bytes[pos + 1]]) == 0x0002 {
        let mut cursor = Cursor::new(&bytes[pos..]);
        let (header, header_len) = decoder
            .decode_header(&mut cursor)
            .map_err(|e| format!("unreadable file meta element at byte {pos}: {e}"))?;
        let len = header
            .len
            .get()
            .ok_or_else(|| format!("file meta element {} has an undefined length", header.tag))?
            as usize;
        let value_start = pos + header_len;
        let value = bytes.get(value_start..value_start + len).ok_or_else(|| {
            format!(
                "file meta element {} declares {len} bytes but the file holds {}: truncated or corrupt",
                header.tag,
                bytes.len()
            )
        })?;
        let text =
            || Some(String::from_utf8_lossy(value).trim_end_matches(['\0', ' ']).to_string()).filter(|s| !s.is_empty());
        match header.tag {
            Tag(0x0002, 0x0002) => meta.sop_class = text(),
            Tag(0x0002, 0x0003) => meta.sop_instance = text(),
            Tag(0x0002, 0x0010) => meta.transfer_syntax = text(),
            _ => {}
        }
        meta.present = true;
        pos = value_start + len;
    }
    meta.end = pos;
    Ok(meta)
}

/// Where the data set ends for `until`: before the pixel data's header (`PixelData`) or after
/// its value (`ThroughPixelData`), every declared length checked against the bytes left.
/// Also says whether bytes follow the pixel data.
fn data_set_end(data: &[u8], ts_uid: &str, until: Until) -> Result<(usize, bool), String> {
    let ts = TransferSyntaxRegistry
        .get(ts_uid)
        .ok_or_else(|| format!("unknown transfer syntax {ts_uid}"))?;
    if matches!(ts.codec(), Codec::Dataset(Some(_))) {
        return Err("a deflated data set the standard reader refused; cannot repair it".into());
    }
    let counter = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let source = Counted {
        inner: Cursor::new(data),
        consumed: counter.clone(),
    };
    let consumed = || counter.get() as usize;
    let mut tokens = DataSetReader::new_with_ts(source, ts).map_err(|e| format!("cannot read the data set ({e})"))?;
    let mut depth = 0usize;
    let mut pixel_sequence = false;
    let mut after_pixel_header = false;
    loop {
        let before = consumed();
        let Some(token) = tokens.next() else {
            return Ok((data.len(), false));
        };
        let token = token.map_err(|e| format!("cannot read the data set at byte {before} ({e})"))?;
        let left = data.len() - consumed();
        let fits = |what: String, len: dicom_core::Length| match len.get() {
            Some(n) if n as usize > left => Err(format!(
                "{what} declares {n} bytes but only {left} remain: truncated or corrupt, refused before allocating"
            )),
            _ => Ok(()),
        };
        match &token {
            DataToken::ElementHeader(h) if depth == 0 => {
                if h.tag >= tags::PIXEL_DATA && (until == Until::PixelData || h.tag > tags::PIXEL_DATA) {
                    return Ok((before, true));
                }
                fits(format!("element {}", h.tag), h.len)?;
                after_pixel_header = h.tag == tags::PIXEL_DATA;
            }
            DataToken::ElementHeader(h) => fits(format!("element {}", h.tag), h.len)?,
            DataToken::SequenceStart { tag, len } => {
                if depth == 0 && *tag >= tags::PIXEL_DATA {
                    return Ok((before, true));
                }
                fits(format!("sequence {tag}"), *len)?;
                depth += 1;
            }
            DataToken::PixelSequenceStart => {
                if depth == 0 && until == Until::PixelData {
                    return Ok((before, true));
                }
                pixel_sequence = depth == 0;
                depth += 1;
            }
            DataToken::ItemStart { len } => fits("an item".into(), *len)?,
            DataToken::SequenceEnd => {
                depth = depth.saturating_sub(1);
                if depth == 0 && pixel_sequence {
                    let end = consumed();
                    return Ok((end, end < data.len()));
                }
            }
            DataToken::PrimitiveValue(_) if depth == 0 && after_pixel_header => {
                let end = consumed();
                return Ok((end, end < data.len()));
            }
            _ => {}
        }
    }
}

/// Opens `path` the tolerant way (see the module docs): the object and the repairs made.
pub(super) fn open_repaired(path: &Path, until: Until) -> Result<(DefaultDicomObject, Vec<String>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let mut notes = Vec::new();
    let start = if bytes.len() >= 132 && &bytes[128..132] == b"DICM" {
        132
    } else if bytes.starts_with(b"DICM") {
        notes.push("no 128-byte preamble before the DICM prefix".to_string());
        4
    } else {
        notes.push("no 128-byte preamble or DICM prefix".to_string());
        0
    };
    let meta = read_meta(&bytes, start)?;
    // A bare data set must start like one: every image data set begins with a group of
    // 0000–0008 (command, identifying); anything else is not DICOM.
    let plausible = bytes
        .get(0..2)
        .is_some_and(|g| u16::from_le_bytes([g[0], g[1]]) <= 0x0008);
    if !meta.present && start == 0 && !plausible {
        return Err("no DICM prefix, file meta group or data set: not DICOM".into());
    }
    if !meta.present {
        notes.push("no file meta group: a bare data set".to_string());
    }
    let data = &bytes[meta.end..];
    let sniffed = sniff(data);
    let ts_uid = match (meta.transfer_syntax.as_deref(), sniffed) {
        (Some(declared), Some(found))
            if declared != found && [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE].contains(&declared) =>
        {
            notes.push(format!(
                "the data set is encoded {} although the meta header declares {}",
                syntax_name(found),
                syntax_name(declared)
            ));
            found.to_string()
        }
        (Some(declared), _) => declared.to_string(),
        (None, found) => {
            let guess = found.unwrap_or(IMPLICIT_LE);
            if meta.present {
                notes.push(format!(
                    "no Transfer Syntax UID (0002,0010): {} guessed from the data set, as dcmtk does",
                    syntax_name(guess)
                ));
            } else {
                notes.push(format!("read as {}, guessed from the data set", syntax_name(guess)));
            }
            guess.to_string()
        }
    };
    let (end, trailing) = data_set_end(data, &ts_uid, until)?;
    if trailing && until == Until::ThroughPixelData {
        notes.push("bytes after the pixel data ignored (padding or garbage, as pydicom and dcmtk ignore them)".into());
    }
    let ts = TransferSyntaxRegistry.get(&ts_uid).expect("checked by data_set_end");
    let dataset = InMemDicomObject::read_dataset_with_ts(&data[..end], ts)
        .map_err(|e| format!("cannot read the data set ({e})"))?;
    let text = |tag| {
        dataset
            .element(tag)
            .ok()
            .and_then(|e| e.to_str().ok().map(|s| s.trim_end_matches(['\0', ' ']).to_string()))
    };
    let sop_class = meta
        .sop_class
        .clone()
        .or_else(|| text(tags::SOP_CLASS_UID))
        .unwrap_or_default();
    let sop_instance = meta
        .sop_instance
        .clone()
        .or_else(|| text(tags::SOP_INSTANCE_UID))
        .unwrap_or_default();
    let file_meta = FileMetaTableBuilder::new()
        .media_storage_sop_class_uid(sop_class)
        .media_storage_sop_instance_uid(sop_instance)
        .transfer_syntax(ts_uid)
        .build()
        .map_err(|e| format!("cannot rebuild the file meta group ({e})"))?;
    Ok((dataset.with_exact_meta(file_meta), notes))
}

/// Elements whose VR disagrees with the dictionary (a private-looking UN, OB or another VR for
/// a standard tag) re-read with the dictionary's VR, as pydicom does: the pixel decoder and the
/// geometry readers then see the values. Returns a note naming them (top level only: that is
/// where the image attributes live, apart from the functional groups, which are read through
/// the same conversions by the callers).
pub(super) fn normalise_vrs(obj: &mut DefaultDicomObject) -> Option<String> {
    let mut fixed = Vec::new();
    let replacements: Vec<InMemElement> = obj
        .iter()
        .filter_map(|element| {
            let tag = element.tag();
            if tag.group() % 2 == 1 || tag.group() == 0x7FE0 {
                return None;
            }
            let expected = StandardDataDictionary.by_tag(tag)?.vr.exact()?;
            if expected == element.vr() || matches!(expected, VR::SQ | VR::OB | VR::OW | VR::UN) {
                return None;
            }
            let value = reinterpret(element.value(), element.vr(), expected)?;
            fixed.push(format!("{tag} stored as {}", element.vr().to_string()));
            Some(InMemElement::new(tag, expected, value))
        })
        .collect();
    if replacements.is_empty() {
        return None;
    }
    for element in replacements {
        obj.put(element);
    }
    Some(format!(
        "{} element(s) with a VR other than the dictionary's read with the dictionary's VR ({})",
        fixed.len(),
        fixed.join(", ")
    ))
}

/// A value of VR `found` as VR `expected`: bytes (UN, OB, OW) decoded as implicit little endian
/// values of `expected`; numbers and strings converted.
fn reinterpret(value: &Value<InMemDicomObject>, found: VR, expected: VR) -> Option<Value<InMemDicomObject>> {
    let primitive = value.primitive()?;
    let binary = matches!(found, VR::UN | VR::OB | VR::OW);
    let strings = |text: Cow<'_, str>| -> Vec<String> {
        text.trim_end_matches(['\0', ' '])
            .split('\\')
            .map(|s| s.trim_matches([' ', '\0']).to_string())
            .collect()
    };
    let new = match expected {
        VR::US | VR::SS | VR::UL | VR::SL => {
            let ints: Vec<i64> = if binary {
                let bytes = primitive.to_bytes();
                let width = if matches!(expected, VR::US | VR::SS) { 2 } else { 4 };
                bytes
                    .chunks_exact(width)
                    .map(|c| match expected {
                        VR::US => i64::from(u16::from_le_bytes([c[0], c[1]])),
                        VR::SS => i64::from(i16::from_le_bytes([c[0], c[1]])),
                        VR::UL => i64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                        _ => i64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                    })
                    .collect()
            } else {
                primitive.to_multi_int::<i64>().ok()?
            };
            match expected {
                VR::US => PrimitiveValue::U16(ints.iter().map(|&v| u16::try_from(v).ok()).collect::<Option<_>>()?),
                VR::SS => PrimitiveValue::I16(ints.iter().map(|&v| i16::try_from(v).ok()).collect::<Option<_>>()?),
                VR::UL => PrimitiveValue::U32(ints.iter().map(|&v| u32::try_from(v).ok()).collect::<Option<_>>()?),
                _ => PrimitiveValue::I32(ints.iter().map(|&v| i32::try_from(v).ok()).collect::<Option<_>>()?),
            }
        }
        VR::FL | VR::FD => {
            let floats: Vec<f64> = if binary {
                let bytes = primitive.to_bytes();
                if expected == VR::FL {
                    bytes
                        .chunks_exact(4)
                        .map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])))
                        .collect()
                } else {
                    bytes
                        .chunks_exact(8)
                        .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect()
                }
            } else {
                primitive.to_multi_float64().ok()?
            };
            if expected == VR::FL {
                PrimitiveValue::F32(floats.iter().map(|&v| v as f32).collect())
            } else {
                PrimitiveValue::F64(floats.into())
            }
        }
        VR::AT | VR::OD | VR::OF | VR::OL | VR::OV | VR::SV | VR::UV => return None,
        _ => {
            let text = if binary {
                String::from_utf8_lossy(&primitive.to_bytes()).into_owned()
            } else {
                primitive.to_str().into_owned()
            };
            PrimitiveValue::Strs(strings(Cow::Owned(text)).into())
        }
    };
    Some(Value::Primitive(new))
}

/// A note when the data set carries command-group elements (0000,xxxx), which belong to
/// network messages, not files (dicom-rs keeps them; they are ignored).
pub(super) fn command_group_note(obj: &DefaultDicomObject) -> Option<String> {
    obj.iter()
        .any(|e| e.tag().group() == 0x0000)
        .then(|| "command-group elements (0000,xxxx) inside the data set ignored".to_string())
}
