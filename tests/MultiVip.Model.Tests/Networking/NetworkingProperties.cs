using System.Globalization;
using System.Net;
using CsCheck;
using MultiVip.Model.Errors;
using MultiVip.Model.Networking;
using MultiVip.Model.Services;

namespace MultiVip.Model.Tests.Networking;

/// <summary>Property tests: the parsers, the ACL and the allocator against arbitrary input.</summary>
public class NetworkingProperties
{
    private static string Dotted(uint a) => string.Create(CultureInfo.InvariantCulture, $"{a >> 24}.{(a >> 16) & 255}.{(a >> 8) & 255}.{a & 255}");

    /// <summary>Arbitrary text, text made of address characters, and near-miss addresses.</summary>
    private static readonly Gen<string> AddressLikeText = Gen.OneOf(
        Gen.String,
        Gen.String[Gen.Char["0123456789./-: x+"], 0, 40],
        Gen.Select(Gen.Int[0, 255].Array[4], Gen.Bool.Array[4], (octets, pad) =>
            string.Join('.', octets.Select((o, i) => (pad[i] ? "0" : "") + o.ToString(CultureInfo.InvariantCulture)))),
        Gen.Select(Gen.UInt, Gen.Int[-2, 40], Gen.String[Gen.Char["0./- 9"], 0, 3],
            (a, prefix, noise) => Dotted(a) + "/" + prefix.ToString(CultureInfo.InvariantCulture) + noise),
        Gen.Select(Gen.UInt, Gen.UInt, (a, b) => Dotted(a) + "-" + Dotted(b)));

    [Fact]
    public void Ipv4Subnet_parsing_never_throws_anything_but_MultiVipException()
    {
        AddressLikeText.Sample(text =>
        {
            var ok = Ipv4Subnet.TryParse(text, out var subnet);
            if (ok)
            {
                // Whatever parses is a canonical subnet: host bits clear, and its text parses back to it.
                Assert.Equal(subnet.Network, subnet.Network & subnet.Mask);
                Assert.Equal(subnet, Ipv4Subnet.Parse(subnet.ToString()));
                Assert.Equal(subnet, Ipv4Subnet.Parse(text));

                // The address the user wrote is the address understood (no octal or other shorthand).
                Assert.Equal(Dotted(subnet.Network), text.Trim().Split('/')[0]);
            }
            else
            {
                Assert.Equal(ErrorCode.BadRequest, Assert.Throws<MultiVipException>(() => Ipv4Subnet.Parse(text)).Code);
            }
        }, iter: 5000);
    }

    [Fact]
    public void AddressRange_parsing_never_throws_anything_but_MultiVipException()
    {
        AddressLikeText.Sample(text =>
        {
            try
            {
                var range = AddressRange.Parse(text);
                Assert.True(range.First <= range.Last);
            }
            catch (MultiVipException ex)
            {
                Assert.Equal(ErrorCode.BadRequest, ex.Code);
            }
        }, iter: 5000);
    }

    private static readonly Gen<AclRule> GenRule =
        Gen.Select(Gen.Int[0, 65535], Gen.Bool, Gen.UInt, Gen.Int[0, 32], (order, permit, address, prefix) =>
        {
            var network = prefix == 0 ? 0u : address & (uint.MaxValue << (32 - prefix));
            return new AclRule
            {
                Order = order,
                Action = permit ? AclAction.Permit : AclAction.Deny,
                RemoteSubnet = Dotted(network) + "/" + prefix.ToString(CultureInfo.InvariantCulture),
            };
        });

    /// <summary>Azure's ACL semantics, written out plainly, independent of Ipv4Subnet.</summary>
    private static bool ReferenceAllows(IReadOnlyList<AclRule> rules, uint? client)
    {
        if (rules.Count == 0)
        {
            return true;
        }

        foreach (var rule in rules.OrderBy(r => r.Order))
        {
            var parts = rule.RemoteSubnet.Split('/');
            var octets = parts[0].Split('.').Select(o => uint.Parse(o, CultureInfo.InvariantCulture)).ToArray();
            var network = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3];
            var prefix = int.Parse(parts[1], CultureInfo.InvariantCulture);
            var hostBits = 32 - prefix;
            var matches = client is { } c && ((ulong)c >> hostBits) == ((ulong)network >> hostBits);
            if (matches)
            {
                return rule.Action == AclAction.Permit;
            }
        }

        return rules.All(r => r.Action == AclAction.Deny);
    }

    [Fact]
    public void AclEvaluator_agrees_with_a_reference_implementation()
    {
        // Clients are drawn near the rules' subnets half of the time, so matches are common.
        var gen = GenRule.Array[0, 8]
            .Select(rules => rules.DistinctBy(r => r.Order).ToArray())
            .SelectMany(rules => Gen.Select(Gen.UInt, Gen.Int[0, 3], Gen.Int[0, Math.Max(0, rules.Length - 1)], Gen.UInt[0, 255],
                (random, kind, pick, low) =>
                {
                    uint? client = kind switch
                    {
                        0 => random,
                        1 when rules.Length > 0 => Ipv4Subnet.Parse(rules[pick].RemoteSubnet).Network | (random & ~Ipv4Subnet.Parse(rules[pick].RemoteSubnet).Mask),
                        2 when rules.Length > 0 => Ipv4Subnet.Parse(rules[pick].RemoteSubnet).Network ^ low,
                        3 => null, // an IPv6 client
                        _ => random,
                    };
                    return (rules, client);
                }));

        gen.Sample(t =>
        {
            var (rules, client) = t;
            var acl = new AclEvaluator(rules);
            var remote = client is { } c ? Ipv4.ToAddress(c) : IPAddress.Parse("2001:db8::7");
            var expected = ReferenceAllows(rules, client);
            Assert.Equal(expected, acl.IsAllowed(remote));
            if (client is { } v4)
            {
                Assert.Equal(expected, acl.IsAllowed(v4));
                Assert.Equal(expected, acl.IsAllowed(remote.MapToIPv6()));
            }
        }, iter: 5000);
    }

    /// <summary>One to three disjoint ranges (with gaps), placed anywhere including the top of the address space.</summary>
    private static readonly Gen<AddressPool> GenPool =
        Gen.Select(Gen.UInt, Gen.Select(Gen.UInt[1, 6], Gen.UInt[0, 4]).Array[1, 3], (start, shapes) =>
        {
            var total = shapes.Aggregate(0UL, (sum, s) => sum + s.Item1 + s.Item2);
            var first = (uint)Math.Min(start, uint.MaxValue - total);
            var ranges = new List<AddressRange>();
            foreach (var (size, gap) in shapes)
            {
                ranges.Add(new AddressRange(first, first + size - 1));
                first += size + gap;
            }

            // Give the ranges in a shuffled order too: pool order is the order given, not address order.
            return new AddressPool(start % 2 == 0 ? ranges : Enumerable.Reverse(ranges));
        });

    [Fact]
    public void AddressPool_NextFree_returns_only_free_pool_addresses()
    {
        var gen = GenPool.SelectMany(pool =>
        {
            var addresses = pool.Ranges.SelectMany(r => Enumerable.Range(0, (int)r.Count).Select(i => r.First + (uint)i)).ToArray();
            var neighbours = pool.Ranges.SelectMany(r => new[] { r.First - 1, r.Last + 1 }).ToArray();
            return Gen.Select(
                Gen.Bool.Array[addresses.Length],
                Gen.Int[0, addresses.Length + neighbours.Length],
                (takenMask, cursorPick) =>
                {
                    var taken = addresses.Where((_, i) => takenMask[i]).Concat(neighbours).ToHashSet();
                    IpNumber? cursor = cursorPick < addresses.Length ? addresses[cursorPick]
                        : cursorPick < addresses.Length + neighbours.Length ? neighbours[cursorPick - addresses.Length]
                        : null;
                    return (pool, addresses, taken, cursor);
                });
        });

        gen.Sample(t =>
        {
            var (pool, addresses, taken, cursor) = t;
            var next = pool.NextFree(cursor, taken.Contains);
            if (addresses.All(taken.Contains))
            {
                Assert.Null(next);
                return;
            }

            Assert.NotNull(next);
            Assert.Contains(next.Value, addresses);
            Assert.DoesNotContain(next.Value, taken);

            // And it is the first free one walking on from the cursor in pool order, wrapping.
            var start = cursor is { } c && Array.IndexOf(addresses, c) is var i and >= 0 ? i + 1 : 0;
            var expected = Enumerable.Range(0, addresses.Length)
                .Select(k => addresses[(start + k) % addresses.Length])
                .First(a => !taken.Contains(a));
            Assert.Equal(expected, next.Value);
        }, iter: 3000);
    }
}
