//! The cargo-fuzz targets' bodies (`fuzz/src/bodies.rs`) run on stable as a bounded randomized
//! test: seeds of valid and hostile inputs, mutated by a small seeded PRNG (bit flips, byte
//! insertions and deletions, splices, interesting bytes). `SHOP_FUZZ_ITERATIONS` (default 50000
//! per target) and `SHOP_FUZZ_SEED` control it; long runs use cargo-fuzz (docs/reliability.md).
#[path = "../../../../fuzz/src/bodies.rs"]
mod bodies;
use crate::support;

use support::Rng;

const SEEDS: &[&[u8]] = &[
    b"4242 4242 4242 4242\xff12\xff2035\xff123",
    b"3782-822463-10005\xff1\xff30\xff1234",
    b"4000000000000002\xff7\xff29\xff999",
    b"Ada Lovelace\xff12 Analytical Row\xffLondon\xffN1 9GU\xffGB",
    b"Jos\xc3\xa9\xff1 Rue\xffParis\xff75001\xfffr",
    b"19.99\xffUSD\xff0.01",
    b"99999999.99\xffEUR\xff1",
    b"1000\xffJPY\xff5",
    b"19.99\xffUSD\xffJPY\xff1\xff151.23",
    b"6.147\xffKWD\xffEUR\xff0.3075\xff0.9215",
    b"92233720368547758.07\xffUSD\xffKWD\xff1\xff1000000",
    b"csrf=0123456789abcdef0123456789abcdef&sku=KIT-MUG-TEAL&quantity=2",
    b"q=red+mug&name=J%C3%BCrgen%20M&empty=&flag",
    b"a=%zz&b=%4&c=%ff%fe&a=1",
    br#"{"session":"0123456789abcdef0123456789abcdef","sku":"KIT-MUG-TEAL","quantity":2}"#,
    br#"{"category":null,"query":"mug","page":1,"page_size":12}"#,
    br#"{"skus":["KIT-MUG-TEAL","x"]}"#,
    br#"{"idempotency_key":"k","amount":{"minor":1299,"currency":"USD"},"card":{"number":"4242424242424242","expiry_month":12,"expiry_year":2035,"cvv":"123"}}"#,
    b"\x00\x05\x63\x01\x05\x00\x02\x05\x30\x03\x05\x00",
    b"",
    b"Ada.Lovelace@Example.COM\xffcorrect horse battery staple\xff127.0.0.1",
    b"ada@example.com\xffPassword1234!\xff[::1]:8080",
    b"zo\xc3\xab@b\xc3\xbccher.de\xffcorrect\x00horse battery\xff::ffff:10.0.0.1",
    b"v1 0123456789abcdef0123456789abcdef 1800000000 1800000060\xff1800000100\xff7 1800000000000 1800000000500",
    b"v1 0123456789abcdef0123456789abcdef 1797408000 1799999000\xff1800000000\xff6  1800000000000",
];

const INTERESTING: &[u8] = &[0, 0xff, b'0', b'9', b'%', b'+', b'&', b'=', b'"', b'{', b'}', b'.', b'-', b' ', 0x7f, 0xc3, 0xe2];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, *rng.pick(INTERESTING));
            }
            2 if !out.is_empty() => {
                let i = rng.below(out.len());
                out.remove(i);
            }
            3 => {
                let other = rng.pick(SEEDS);
                let (a, b) = (rng.below(out.len() + 1), rng.below(other.len() + 1));
                out.truncate(a);
                out.extend_from_slice(&other[b..]);
            }
            4 if !out.is_empty() => {
                let i = rng.below(out.len());
                let n = rng.below(8).min(out.len() - i);
                let copy = out[i..i + n].to_vec();
                out.splice(i..i, copy.iter().copied().cycle().take(n * (1 + rng.below(50))));
            }
            5 => {
                let i = rng.below(out.len() + 1);
                out.insert(i, (rng.next() & 0xff) as u8);
            }
            _ => out = rng.pick(SEEDS).to_vec(),
        }
    }
    out
}

fn run(name: &str, body: fn(&[u8])) {
    let iterations: usize = std::env::var("SHOP_FUZZ_ITERATIONS").ok().and_then(|n| n.parse().ok()).unwrap_or(50_000);
    let mut rng = Rng::from_env(name);
    let mut corpus: Vec<Vec<u8>> = SEEDS.iter().map(|s| s.to_vec()).collect();
    for input in &corpus {
        body(input);
    }
    for i in 0..iterations {
        let base = corpus[rng.below(corpus.len())].clone();
        let input = mutate(&mut rng, &base);
        let outcome = std::panic::catch_unwind(|| body(&input));
        if let Err(e) = outcome {
            panic!("{name}: iteration {i} failed on input {input:?} ({:?})", e.downcast_ref::<String>());
        }
        if corpus.len() < 512 && rng.chance(5) {
            corpus.push(input);
        }
    }
}

#[test]
fn card_number() {
    run("card_number", bodies::card_number);
}

#[test]
fn address() {
    run("address", bodies::address);
}

#[test]
fn money() {
    run("money", bodies::money);
}

#[test]
fn exchange() {
    run("exchange", bodies::exchange);
}

#[test]
fn cart_commands() {
    run("cart_commands", bodies::cart_commands);
}

#[test]
fn form_decode() {
    run("form_decode", bodies::form_decode);
}

#[test]
fn json_decode() {
    run("json_decode", bodies::json_decode);
}

#[test]
fn credentials() {
    run("credentials", bodies::credentials);
}

#[test]
fn account_records() {
    run("account_records", bodies::account_records);
}
