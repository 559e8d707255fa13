//! `DeviceIdStruct` and the canonical device identifier derived from it (§3.1, AUT-03).

use serde::Serialize;

/// The identity a CPE reports in every Inform.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize)]
pub struct DeviceId {
    /// `DeviceInfo.Manufacturer`, at most 64 characters.
    pub manufacturer: String,
    /// `DeviceInfo.ManufacturerOUI`: six upper-case hexadecimal digits.
    pub oui: String,
    /// `DeviceInfo.ProductClass`, may be empty, at most 64 characters.
    pub product_class: String,
    /// `DeviceInfo.SerialNumber`, at most 64 characters.
    pub serial_number: String,
}

impl DeviceId {
    /// Whether the OUI matches the schema pattern `[0-9A-F]{6}`.
    pub fn oui_is_valid(&self) -> bool {
        self.oui.len() == 6
            && self
                .oui
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
    }

    /// The canonical identifier `OUI-ProductClass-SerialNumber` (or `OUI-SerialNumber` when the
    /// product class is empty), every byte outside `[A-Za-z0-9_]` of ProductClass and
    /// SerialNumber percent-encoded after UTF-8 encoding (AUT-03). This is also the username a
    /// CPE is expected to present.
    pub fn canonical(&self) -> String {
        let mut out = String::with_capacity(
            self.oui.len() + self.product_class.len() + self.serial_number.len() + 2,
        );
        out.push_str(&self.oui.to_ascii_uppercase());
        out.push('-');
        if !self.product_class.is_empty() {
            percent_encode_into(&self.product_class, &mut out);
            out.push('-');
        }
        percent_encode_into(&self.serial_number, &mut out);
        out
    }
}

fn percent_encode_into(text: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aut_03_canonical_id_percent_encodes_and_drops_empty_product_class() {
        let mut id = DeviceId {
            manufacturer: "H3C".into(),
            oui: "00E0FC".into(),
            product_class: "MSR 2600".into(),
            serial_number: "SN-é1".into(),
        };
        assert_eq!(id.canonical(), "00E0FC-MSR%202600-SN%2D%C3%A91");
        id.product_class.clear();
        assert_eq!(id.canonical(), "00E0FC-SN%2D%C3%A91");
        assert!(id.oui_is_valid());
        id.oui = "00e0fc".into();
        assert!(!id.oui_is_valid());
    }
}
