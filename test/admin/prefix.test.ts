import { describe, expect, it } from "bun:test";
import { BanList } from "../../src/admin/banlist";
import { contains, formatPrefix, PrefixError, parsePrefix } from "../../src/admin/prefix";

const canon = (t: string) => formatPrefix(parsePrefix(t));

describe("parsePrefix and formatPrefix", () => {
  it("spells every range one way: host bits cleared, a bare address a full-length prefix", () => {
    expect(canon("203.0.113.77/24")).toBe("203.0.113.0/24");
    expect(canon("192.0.2.7")).toBe("192.0.2.7/32");
    expect(canon("0.0.0.0/0")).toBe("0.0.0.0/0");
    expect(canon("2001:0DB8:0:0::1/32")).toBe("2001:db8::/32");
    expect(canon("::1")).toBe("::1/128");
    expect(canon("2001:db8:1:2:3:4:5:6/127")).toBe("2001:db8:1:2:3:4:5:6/127");
    expect(canon("::ffff:192.0.2.1")).toBe("192.0.2.1/32");
  });

  it("refuses what is not an address or has a bad prefix length, saying so", () => {
    for (const bad of [
      "",
      "example.com",
      "1.2.3",
      "1.2.3.4/33",
      "::/129",
      "1.2.3.4/x",
      "fe80::1%eth0",
      "1.2.3.4/",
    ])
      expect(() => parsePrefix(bad)).toThrow(PrefixError);
    expect(() => parsePrefix("1.2.3.4/40")).toThrow('prefix length in "1.2.3.4/40" must be 0 to 32');
    expect(() => parsePrefix("nope")).toThrow("is not an IP address or ADDRESS/PREFIX range");
  });
});

describe("contains", () => {
  it("matches addresses inside the range only, IPv4 also when the socket reports it IPv4-mapped", () => {
    const v4 = parsePrefix("10.1.0.0/15");
    expect(contains(v4, "9.255.255.255")).toBe(false);
    expect(contains(v4, "10.0.255.255")).toBe(true);
    expect(contains(v4, "10.0.0.1")).toBe(true);
    expect(contains(v4, "10.1.2.3")).toBe(true);
    expect(contains(v4, "10.2.0.0")).toBe(false);
    expect(contains(v4, "::ffff:10.1.2.3")).toBe(true);
    expect(contains(v4, "::1")).toBe(false);
    const v6 = parsePrefix("2001:db8::/32");
    expect(contains(v6, "2001:db8:ffff::1")).toBe(true);
    expect(contains(v6, "2001:db9::1")).toBe(false);
    expect(contains(v6, "10.1.2.3")).toBe(false);
    expect(contains(parsePrefix("0.0.0.0/0"), "198.51.100.1")).toBe(true);
  });
});

describe("BanList", () => {
  it("finds the ban covering an address, and ignores lapsed ones", () => {
    const bans = new BanList();
    bans.set([
      { prefix: "192.0.2.0/24", until: 1000, createdAt: 0 },
      { prefix: "2001:db8::/32", until: null, createdAt: 0 },
    ]);
    expect(bans.covering("192.0.2.9", 999)?.prefix).toBe("192.0.2.0/24");
    expect(bans.covering("192.0.2.9", 1000)).toBeUndefined();
    expect(bans.covering("2001:db8::5", 1e15)?.prefix).toBe("2001:db8::/32");
    expect(bans.covering("127.0.0.1", 0)).toBeUndefined();
  });
});
