//! Disk encryption on Linux: which block device holds `/`, and whether a dm-crypt mapping lies
//! under it (directly, or below LVM/RAID through `/sys/class/block/<dev>/slaves`).

/// The mount of `/` in `/proc/self/mountinfo` (proc(5)):
/// `27 1 254:0 / / rw,relatime - ext4 /dev/vda rw` = id, parent, major:minor, root, mount point,
/// options, optional fields, `-`, file system type, source, super options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootMount {
    pub major: u32,
    pub minor: u32,
    pub fs_type: String,
    pub source: String,
}

/// The last (topmost) mount of `/`.
pub fn root_mount(mountinfo: &str) -> Option<RootMount> {
    mountinfo.lines().rev().find_map(|line| {
        let (left, right) = line.split_once(" - ")?;
        let fields: Vec<&str> = left.split_whitespace().collect();
        if fields.get(4) != Some(&"/") {
            return None;
        }
        let (major, minor) = fields.get(2)?.split_once(':')?;
        let mut right = right.split_whitespace();
        Some(RootMount {
            major: major.parse().ok()?,
            minor: minor.parse().ok()?,
            fs_type: right.next()?.to_owned(),
            source: unescape(right.next().unwrap_or_default()),
        })
    })
}

/// mountinfo escapes space, tab, newline and backslash as `\040` style octal.
fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && let Some(octal) = s.get(i + 1..i + 4)
            && let Ok(code) = u8::from_str_radix(octal, 8)
        {
            out.push(char::from(code));
            i += 4;
            continue;
        }
        if let Some(c) = s[i..].chars().next() {
            out.push(c);
            i += c.len_utf8();
        } else {
            break;
        }
    }
    out
}

/// The encryption a device-mapper UUID names, for `CRYPT-` targets set up by cryptsetup:
/// `CRYPT-LUKS2-<uuid>-<name>` -> "LUKS2", `CRYPT-PLAIN-<name>` -> "dm-crypt (plain)".
pub fn crypt_method(dm_uuid: &str) -> Option<String> {
    let rest = dm_uuid.trim().strip_prefix("CRYPT-")?;
    let kind = rest.split('-').next().unwrap_or_default();
    Some(match kind {
        "LUKS1" | "LUKS2" => kind.to_owned(),
        "LUKS" => "LUKS1".to_owned(),
        "PLAIN" => "dm-crypt (plain)".to_owned(),
        "BITLK" => "BitLocker (dm-crypt)".to_owned(),
        "TCRYPT" => "TrueCrypt/VeraCrypt (dm-crypt)".to_owned(),
        "" => "dm-crypt".to_owned(),
        other => format!("dm-crypt ({other})"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_mount_from_mountinfo() {
        let m = root_mount(include_str!("testdata/mountinfo-luks-lvm")).expect("root");
        assert_eq!((m.major, m.minor), (253, 1));
        assert_eq!(m.fs_type, "ext4");
        assert_eq!(m.source, "/dev/mapper/vg0-root");
    }

    #[test]
    fn btrfs_root_has_an_anonymous_device() {
        let m = root_mount(
            "29 1 0:26 /@ / rw,relatime shared:1 - btrfs /dev/mapper/luks-1234 rw,ssd,subvol=/@\n\
             30 29 0:26 /@home /home rw,relatime shared:2 - btrfs /dev/mapper/luks-1234 rw\n",
        )
        .expect("root");
        assert_eq!((m.major, m.minor), (0, 26));
        assert_eq!(m.source, "/dev/mapper/luks-1234");
        assert_eq!(unescape("/mnt/my\\040disk"), "/mnt/my disk");
    }

    #[test]
    fn crypt_methods() {
        assert_eq!(
            crypt_method("CRYPT-LUKS2-3f6f1c7c2e9b4e0f9d7c6b5a4f3e2d1c-luks-3f6f1c7c").as_deref(),
            Some("LUKS2")
        );
        assert_eq!(
            crypt_method("CRYPT-LUKS1-abc-sda2_crypt").as_deref(),
            Some("LUKS1")
        );
        assert_eq!(
            crypt_method("CRYPT-PLAIN-swap").as_deref(),
            Some("dm-crypt (plain)")
        );
        assert_eq!(crypt_method("LVM-abcdef"), None);
    }
}
