//! Vietnamese mobile numbers written in a customer's message or comment (issue 12, auto-hide and
//! the conversation's `phones`).
//!
//! Customers write their number in many ways ("sđt:0912345678", "ib 0912.345.678 nhé",
//! "+84 912 345 678"), and the same text is full of other digit runs: prices (`350.000đ`,
//! `1.250.000 VND`), dates, times and order codes. A false positive hides an innocent comment,
//! so the rule below prefers missing an odd spelling to hiding a price.
//!
//! # The rule
//!
//! 1. **Chunks.** The text is cut into chunks: maximal runs of ASCII digit *groups* joined by a
//!    single separator, where a separator is one space, one `.` or one `-` followed directly by
//!    a digit. A chunk may open with a country prefix: `+` glued to its first group, or the
//!    literal `(+84)` followed by digits, by one separator, or by nothing. Anything else (`/`,
//!    `:`, `,`, two spaces, a tab) ends the chunk, so `12/10/2026` and `20:30` are several
//!    chunks of one or two digits.
//! 2. **Numbers.** Inside a chunk a number is a run of whole consecutive groups (never part of
//!    a group) whose digits are either `0` + 9 digits (national form) or `84` + 9 digits
//!    (international form; with or without `+`). The digit after the leading `0` (or after
//!    `84`) must be a mobile prefix: 3, 5, 7, 8 or 9. Landlines (`024…`) and unknown prefixes
//!    (`06…`) are not mobile numbers.
//! 3. **Group shapes.** Every group has at least 3 digits, except a leading country code written
//!    alone (`+84 912 345 678`). This is what keeps dates out: `09.12.2026 12` has the digits
//!    of a mobile number but groups of 2. A bare `84` (no `+`) may only be followed by a space:
//!    `84.912.345.678` is how a price is written, not a phone.
//! 4. **Boundaries inside a chunk.** A number that is not at the start of its chunk must follow
//!    a space (`Số 2 0912345678`), never a `.` or `-` (`5.091.000` is a price). A number that is
//!    not at the end of its chunk must be followed by a space, never `.`/`-`
//!    (`0912.345.678.90`). A number written with spaces inside (`0912 345 678`) must fill its
//!    chunk: `0912 345 678 9` is ambiguous (an 11-digit typo?) and is not taken.
//! 5. **Boundaries at the edge of a chunk.** The character before a chunk and the one after it
//!    must not glue it to something else:
//!    - a letter or digit of any script (`DH0912345678X`, `0912345678đ`, `350k`) glues;
//!    - `# / \ _ @ % & $ ₫ €` glue (codes, paths, handles, amounts: `#0912345678`);
//!    - `.`, `-`, `,`, `:` glue when a digit lies beyond them (`1.0912345678`,
//!      `0912345678-2`), and `.`, `-` also glue when a letter lies beyond them (`SP-0912…`,
//!      `…678.vn`), while `sđt:0912345678` and `0912345678.` at the end of a sentence are fine.
//!
//! Left alone on purpose: two spaced numbers in a row (`0912 345 678 0987 654 321`, where the
//! split is a guess), tabs, double or non-breaking spaces and `/` between groups, and the
//! redundant `0` in `+84 0912 345 678`. Each would widen what a chunk is and let more prices and
//! dates in; they can be added with tests if real comments show them.
//!
//! Results are normalised to `0` + 9 digits, deduplicated, in order of first appearance. The
//! scanner walks `char`s (never byte offsets), so any UTF-8 text is safe.

/// Separators allowed between the digit groups of one number.
const SEPARATORS: [char; 3] = [' ', '.', '-'];

/// Characters that always glue a digit run to what is next to it (codes, handles, amounts).
const HARD_JOINERS: [char; 10] = ['#', '/', '\\', '_', '@', '%', '&', '$', '₫', '€'];

/// Characters that glue a digit run to a digit beyond them (`1.0912…`, `20:0912…`).
const SOFT_JOINERS: [char; 4] = ['.', '-', ',', ':'];

/// The separator recorded after the `(+84)` prefix when digits follow it directly.
const GLUED_PAREN: char = ')';

/// One digit group of a chunk, with its span in the text's chars (prefix included).
struct Group {
    start: usize,
    end: usize,
    digits: String,
    /// Written with a `+` (or inside `(+84)`): only the international form may follow.
    plus: bool,
}

/// A chunk: groups and the separator before each group after the first.
struct Chunk {
    groups: Vec<Group>,
    seps: Vec<char>,
}

/// Every Vietnamese mobile number in `text`, normalised to `0xxxxxxxxx`, deduplicated, in order
/// of first appearance. See the module documentation for the exact rule.
pub fn find_phones(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chunk_at(&chars, i) {
            Some(chunk) => {
                let next = chunk.groups.last().map_or(i + 1, |g| g.end.max(i + 1));
                for phone in phones_in_chunk(&chars, &chunk) {
                    if !found.contains(&phone) {
                        found.push(phone);
                    }
                }
                i = next;
            }
            None => i += 1,
        }
    }
    found
}

fn is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i).is_some_and(char::is_ascii_digit)
}

/// The ASCII digits from `i`, and the index after them.
fn digits_from(chars: &[char], i: usize) -> (String, usize) {
    let mut end = i;
    let mut digits = String::new();
    while let Some(c) = chars.get(end).filter(|c| c.is_ascii_digit()) {
        digits.push(*c);
        end += 1;
    }
    (digits, end)
}

/// The first group of a chunk starting at `i`, if one starts there.
fn first_group(chars: &[char], i: usize) -> Option<Group> {
    let c = *chars.get(i)?;
    if c == '(' {
        let prefix = ['(', '+', '8', '4', ')'];
        let matches = prefix.iter().enumerate().all(|(k, p)| chars.get(i + k) == Some(p));
        return matches.then(|| Group {
            start: i,
            end: i + prefix.len(),
            digits: "84".to_owned(),
            plus: true,
        });
    }
    if c == '+' {
        if !is_digit(chars, i + 1) {
            return None;
        }
        let (digits, end) = digits_from(chars, i + 1);
        return Some(Group { start: i, end, digits, plus: true });
    }
    if c.is_ascii_digit() {
        let (digits, end) = digits_from(chars, i);
        return Some(Group { start: i, end, digits, plus: false });
    }
    None
}

/// The maximal chunk starting at `i` (rule 1), if a group starts there.
fn chunk_at(chars: &[char], i: usize) -> Option<Chunk> {
    let first = first_group(chars, i)?;
    let paren = chars.get(first.start) == Some(&'(');
    let mut end = first.end;
    let mut groups = vec![first];
    let mut seps = Vec::new();
    loop {
        let (sep, digits_at) = match chars.get(end) {
            Some(c) if SEPARATORS.contains(c) && is_digit(chars, end + 1) => (*c, end + 1),
            Some(c) if paren && groups.len() == 1 && c.is_ascii_digit() => (GLUED_PAREN, end),
            _ => break,
        };
        let (digits, group_end) = digits_from(chars, digits_at);
        groups.push(Group { start: digits_at, end: group_end, digits, plus: false });
        seps.push(sep);
        end = group_end;
    }
    Some(Chunk { groups, seps })
}

/// The numbers of one chunk (rules 2 to 5), normalised.
fn phones_in_chunk(chars: &[char], chunk: &Chunk) -> Vec<String> {
    let mut phones = Vec::new();
    let groups = &chunk.groups;
    let last = groups.len().saturating_sub(1);
    let mut s = 0;
    while s < groups.len() {
        match number_from(chars, chunk, s) {
            Some((phone, e)) => {
                phones.push(phone);
                s = e + 1;
            }
            None => s += 1,
        }
        if s > last {
            break;
        }
    }
    phones
}

/// The number starting at group `s` of `chunk`, with the index of its last group.
fn number_from(chars: &[char], chunk: &Chunk, s: usize) -> Option<(String, usize)> {
    let groups = &chunk.groups;
    let seps = &chunk.seps;
    let first = groups.get(s)?;
    // Rule 4: mid-chunk, a number only starts after a space.
    if s > 0 && seps.get(s - 1) != Some(&' ') {
        return None;
    }
    let international = first.digits.starts_with("84");
    let national = !first.plus && first.digits.starts_with('0');
    if !international && !national {
        return None;
    }
    if first.plus && !international {
        return None;
    }
    let country_alone = international && first.digits == "84";
    // Rule 3: a bare `84` is only a country code when a space follows it.
    if country_alone && !first.plus && seps.get(s) != Some(&' ') {
        return None;
    }
    let needed = if international { 11 } else { 10 };
    let mut digits = String::new();
    let mut e = s;
    loop {
        let group = groups.get(e)?;
        // Rule 3: groups of at least 3 digits, the country code excepted.
        if group.digits.len() < 3 && !(e == s && country_alone) {
            return None;
        }
        digits.push_str(&group.digits);
        if digits.len() >= needed {
            break;
        }
        e += 1;
    }
    if digits.len() != needed {
        return None;
    }
    let national_digits = if international { format!("0{}", digits.get(2..)?) } else { digits };
    if !is_mobile(&national_digits) {
        return None;
    }
    // Rule 4: spaced numbers fill their chunk; a following group must be after a space.
    let spaced = seps.get(s..e).is_some_and(|inner| inner.contains(&' '));
    let last = groups.len() - 1;
    if spaced && (s > 0 || e < last) {
        return None;
    }
    if e < last && seps.get(e) != Some(&' ') {
        return None;
    }
    // Rule 5: the edges of the chunk.
    if s == 0 && glued_before(chars, first.start) {
        return None;
    }
    if e == last && glued_after(chars, groups.get(e)?.end) {
        return None;
    }
    Some((national_digits, e))
}

/// `0` + 9 digits with a mobile prefix (03, 05, 07, 08, 09).
fn is_mobile(national: &str) -> bool {
    let bytes = national.as_bytes();
    bytes.len() == 10
        && bytes.iter().all(u8::is_ascii_digit)
        && bytes.first() == Some(&b'0')
        && bytes.get(1).is_some_and(|b| matches!(b, b'3' | b'5' | b'7' | b'8' | b'9'))
}

/// Whether `c`, next to a digit run, glues it to `beyond` (the character on its far side).
fn glues(c: char, beyond: Option<char>) -> bool {
    if c.is_alphanumeric() || HARD_JOINERS.contains(&c) {
        return true;
    }
    if SOFT_JOINERS.contains(&c) {
        return match beyond {
            Some(b) if b.is_numeric() => true,
            Some(b) if b.is_alphabetic() => c == '.' || c == '-',
            _ => false,
        };
    }
    false
}

/// Whether the character before index `start` glues the chunk to the left.
fn glued_before(chars: &[char], start: usize) -> bool {
    let Some(before) = start.checked_sub(1).and_then(|k| chars.get(k)) else {
        return false;
    };
    let beyond = start.checked_sub(2).and_then(|k| chars.get(k)).copied();
    glues(*before, beyond)
}

/// Whether the character at index `end` glues the chunk to the right.
fn glued_after(chars: &[char], end: usize) -> bool {
    match chars.get(end) {
        Some(after) => glues(*after, chars.get(end + 1).copied()),
        None => false,
    }
}

#[cfg(test)]
mod tests;
