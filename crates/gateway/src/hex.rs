//! Lowercase hexadecimal, the one encoder of the gateway: `ETag`s, digests of secrets and
//! request ids all write their bytes with [`encode_into`].

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex into `out`, two digits a byte, as far as `out` reaches.
pub(crate) fn encode_into(bytes: &[u8], out: &mut [u8]) {
    for (byte, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(byte >> 4)];
        pair[1] = DIGITS[usize::from(byte & 0x0f)];
    }
}

/// `bytes` as a string of lowercase hex.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut text = vec![0; bytes.len() * 2];
    encode_into(bytes, &mut text);
    // Hex digits are ASCII.
    text.into_iter().map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nibble_becomes_its_lowercase_digit() {
        assert_eq!(encode(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(encode(&[]), "");
        let mut out = [b'-'; 5];
        encode_into(&[0xbe, 0xef], &mut out);
        assert_eq!(&out, b"beef-");
    }
}
