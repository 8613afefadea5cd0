//! Netlink attributes (`struct nlattr`): a writer that builds them and a reader that splits a
//! buffer into them, with checked scalar getters.
//!
//! Pure and panic-free on any input: the reader only uses `get`/`first_chunk` on the
//! wire bytes and returns a [`DecodeError`] for anything malformed.
//!
//! ```text
//!  0               1               2               3
//! +-------------------------------+-------------------------------+
//! |        nla_len (u16)          |  nla_type (u16, 2 flag bits)  |
//! +-------------------------------+-------------------------------+
//! |  payload (nla_len - 4 bytes), zero-padded to a multiple of 4  |
//! +---------------------------------------------------------------+
//! ```
//! Integers are in host byte order except where the uapi says `__be16`/`__be32` (ports,
//! the IPv4 persistence netmask, the tunnel port).

use super::consts::{Key, NLA_F_NESTED, NLA_TYPE_MASK};
use super::decode::DecodeError;

const NLA_HDRLEN: usize = 4;

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

// === Writer ===

/// Appends attributes to a buffer. Lengths that do not fit the u16 `nla_len` are recorded
/// and reported by [`AttrWriter::finish`] instead of being truncated.
#[derive(Debug, Default)]
pub(crate) struct AttrWriter {
    buf: Vec<u8>,
    too_long: bool,
}

impl AttrWriter {
    /// A writer whose buffer already holds `prefix` (the generic netlink header).
    pub(crate) fn with_prefix(prefix: &[u8]) -> Self {
        AttrWriter {
            buf: prefix.to_vec(),
            too_long: false,
        }
    }

    fn header(&mut self, ty: u16, len: usize) {
        let len = u16::try_from(len).unwrap_or_else(|_| {
            self.too_long = true;
            u16::MAX
        });
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
    }

    fn pad(&mut self) {
        let padded = align4(self.buf.len());
        self.buf.resize(padded, 0);
    }

    pub(crate) fn bytes(&mut self, key: Key, payload: &[u8]) {
        self.header(key.ty, NLA_HDRLEN + payload.len());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    pub(crate) fn u8(&mut self, key: Key, v: u8) {
        self.bytes(key, &[v]);
    }

    pub(crate) fn u16(&mut self, key: Key, v: u16) {
        self.bytes(key, &v.to_ne_bytes());
    }

    pub(crate) fn be16(&mut self, key: Key, v: u16) {
        self.bytes(key, &v.to_be_bytes());
    }

    pub(crate) fn u32(&mut self, key: Key, v: u32) {
        self.bytes(key, &v.to_ne_bytes());
    }

    /// A NUL-terminated string (`NLA_NUL_STRING`), as `nla_put_string` writes it.
    pub(crate) fn string(&mut self, key: Key, s: &str) {
        let mut payload = Vec::with_capacity(s.len() + 1);
        payload.extend_from_slice(s.as_bytes());
        payload.push(0);
        self.bytes(key, &payload);
    }

    /// A nested attribute (with `NLA_F_NESTED`, as libnl sets it) holding what `fill` writes.
    pub(crate) fn nested(&mut self, key: Key, fill: impl FnOnce(&mut AttrWriter)) {
        let start = self.buf.len();
        self.header(key.ty | NLA_F_NESTED, 0);
        fill(self);
        let len = self.buf.len() - start;
        let len = u16::try_from(len).unwrap_or_else(|_| {
            self.too_long = true;
            u16::MAX
        });
        if let Some(slot) = self.buf.get_mut(start..start + 2) {
            slot.copy_from_slice(&len.to_ne_bytes());
        }
    }

    /// The bytes written, or `None` if some attribute was longer than `nla_len` can say.
    pub(crate) fn finish(self) -> Option<Vec<u8>> {
        (!self.too_long).then_some(self.buf)
    }
}

// === Reader ===

/// Splits `buf` into `(type without flag bits, payload)` pairs.
pub(crate) fn split(buf: &[u8]) -> Result<Vec<(u16, &[u8])>, DecodeError> {
    let mut out = Vec::new();
    let mut rest = buf;
    let mut offset = 0usize;
    while !rest.is_empty() {
        let &[l0, l1, t0, t1] = rest
            .first_chunk::<NLA_HDRLEN>()
            .ok_or(DecodeError::Truncated { offset })?;
        let len = usize::from(u16::from_ne_bytes([l0, l1]));
        let ty = u16::from_ne_bytes([t0, t1]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > rest.len() {
            return Err(DecodeError::BadAttrLength { offset, len });
        }
        let payload = rest.get(NLA_HDRLEN..len).unwrap_or_default();
        out.push((ty, payload));
        // The last attribute's padding may be cut off by the message end.
        let step = align4(len).min(rest.len());
        rest = rest.get(step..).unwrap_or_default();
        offset += step;
    }
    Ok(out)
}

/// Attributes of one nest looked up by type, like the kernel's `nla_parse`: types above
/// `N - 1` are ignored and a repeated type keeps its last value.
pub(crate) struct Table<'a, const N: usize> {
    slots: [Option<&'a [u8]>; N],
}

impl<'a, const N: usize> Table<'a, N> {
    pub(crate) fn parse(buf: &'a [u8]) -> Result<Self, DecodeError> {
        let mut slots = [None; N];
        for (ty, payload) in split(buf)? {
            if let Some(slot) = slots.get_mut(usize::from(ty)) {
                *slot = Some(payload);
            }
        }
        Ok(Table { slots })
    }

    pub(crate) fn get(&self, key: Key) -> Option<&'a [u8]> {
        self.slots.get(usize::from(key.ty)).copied().flatten()
    }

    pub(crate) fn require(&self, key: Key) -> Result<&'a [u8], DecodeError> {
        self.get(key).ok_or(DecodeError::Missing { attr: key.name })
    }

    pub(crate) fn nested<const M: usize>(&self, key: Key) -> Result<Table<'a, M>, DecodeError> {
        Table::parse(self.require(key)?)
    }

    pub(crate) fn u8(&self, key: Key) -> Result<u8, DecodeError> {
        fixed::<1>(key, self.require(key)?).map(u8::from_ne_bytes)
    }

    pub(crate) fn u16(&self, key: Key) -> Result<u16, DecodeError> {
        fixed(key, self.require(key)?).map(u16::from_ne_bytes)
    }

    pub(crate) fn be16(&self, key: Key) -> Result<u16, DecodeError> {
        fixed(key, self.require(key)?).map(u16::from_be_bytes)
    }

    pub(crate) fn u32(&self, key: Key) -> Result<u32, DecodeError> {
        fixed(key, self.require(key)?).map(u32::from_ne_bytes)
    }

    pub(crate) fn u64(&self, key: Key) -> Result<u64, DecodeError> {
        fixed(key, self.require(key)?).map(u64::from_ne_bytes)
    }

    /// A `NLA_NUL_STRING`: the bytes before the first NUL (or all of them), as UTF-8.
    pub(crate) fn string(&self, key: Key) -> Result<&'a str, DecodeError> {
        let raw = self.require(key)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let text = raw.get(..end).unwrap_or_default();
        std::str::from_utf8(text).map_err(|_| DecodeError::BadString { attr: key.name })
    }

    /// `Ok(None)` when absent, the getter's result otherwise.
    pub(crate) fn opt<T>(
        &self,
        key: Key,
        get: impl FnOnce(&Self, Key) -> Result<T, DecodeError>,
    ) -> Result<Option<T>, DecodeError> {
        match self.get(key) {
            None => Ok(None),
            Some(_) => get(self, key).map(Some),
        }
    }
}

/// The payload as exactly `L` bytes.
pub(crate) fn fixed<const L: usize>(key: Key, payload: &[u8]) -> Result<[u8; L], DecodeError> {
    <[u8; L]>::try_from(payload).map_err(|_| DecodeError::BadLength {
        attr: key.name,
        len: payload.len(),
        expected: L,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::netlink::consts::key_for_tests as k;

    #[test]
    fn writer_pads_payloads_to_four_bytes_and_counts_only_the_unpadded_length() {
        let mut w = AttrWriter::default();
        w.u8(k(13), 1);
        w.string(k(6), "rr");
        w.u32(k(8), 7);
        let bytes = w.finish().expect("short attributes fit");
        assert_eq!(
            bytes,
            [
                [5, 0, 13, 0, 1, 0, 0, 0],
                [7, 0, 6, 0, b'r', b'r', 0, 0],
                [8, 0, 8, 0, 7, 0, 0, 0]
            ]
            .concat()
        );
    }

    #[test]
    fn nested_attribute_carries_the_nested_flag_and_the_length_of_its_content() {
        let mut w = AttrWriter::default();
        w.nested(k(1), |w| w.u16(k(1), 2));
        assert_eq!(
            w.finish().expect("fits"),
            [12, 0, 1, 0x80, 6, 0, 1, 0, 2, 0, 0, 0]
        );
    }

    #[test]
    fn writer_reports_an_attribute_longer_than_a_u16_length() {
        let mut w = AttrWriter::default();
        w.bytes(k(1), &vec![0u8; 70_000]);
        assert_eq!(w.finish(), None);
    }

    #[test]
    fn reader_strips_flag_bits_and_accepts_a_missing_final_pad() {
        let buf = [12, 0, 1, 0x80, 6, 0, 1, 0, 2, 0, 0, 0, 5, 0, 2, 0x40, 9];
        let attrs = split(&buf).expect("well formed");
        assert_eq!(attrs, vec![(1, &buf[4..12]), (2, &buf[16..17])]);
    }

    #[test]
    fn reader_rejects_a_length_below_the_header_or_past_the_end() {
        assert_eq!(
            split(&[3, 0, 1, 0]),
            Err(DecodeError::BadAttrLength { offset: 0, len: 3 })
        );
        assert_eq!(
            split(&[8, 0, 1, 0, 0, 0, 0, 0, 9, 0, 1, 0, 0]),
            Err(DecodeError::BadAttrLength { offset: 8, len: 9 })
        );
        assert_eq!(
            split(&[4, 0, 1, 0, 1, 2]),
            Err(DecodeError::Truncated { offset: 4 })
        );
    }

    #[test]
    fn table_keeps_the_last_of_repeated_types_and_ignores_types_beyond_its_size() {
        let buf = [
            [8, 0, 1, 0, 1, 0, 0, 0],
            [8, 0, 1, 0, 2, 0, 0, 0],
            [8, 0, 9, 0, 3, 0, 0, 0],
        ]
        .concat();
        let t = Table::<3>::parse(&buf).expect("well formed");
        assert_eq!(t.u32(k(1)), Ok(2));
        assert_eq!(t.get(k(2)), None);
    }

    #[test]
    fn scalar_getters_require_the_exact_width() {
        let buf = [6, 0, 1, 0, 1, 2, 0, 0];
        let t = Table::<2>::parse(&buf).expect("well formed");
        assert_eq!(t.u16(k(1)), Ok(u16::from_ne_bytes([1, 2])));
        assert_eq!(t.be16(k(1)), Ok(0x0102));
        assert_eq!(
            t.u32(k(1)),
            Err(DecodeError::BadLength {
                attr: "test",
                len: 2,
                expected: 4
            })
        );
    }

    #[test]
    fn strings_end_at_the_first_nul_and_must_be_utf8() {
        let buf = [
            [8, 0, 1, 0, b's', b'h', 0, b'x'],
            [6, 0, 2, 0, 0xff, 0xfe, 0, 0],
        ]
        .concat();
        let t = Table::<3>::parse(&buf).expect("well formed");
        assert_eq!(t.string(k(1)), Ok("sh"));
        assert_eq!(t.string(k(2)), Err(DecodeError::BadString { attr: "test" }));
    }
}
