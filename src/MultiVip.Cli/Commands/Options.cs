using System.CommandLine;
using MultiVip.Model.Errors;
using MultiVip.Model.Services;
using MultiVip.Model.Validation;

namespace MultiVip.Cli.Commands;

/// <summary>Option constructors, so every verb spells and validates the same option the same way.</summary>
internal static class Options
{
    public static Option<string> Required(string name, string description) =>
        new(name) { Description = description, Required = true };

    public static Option<string?> Optional(string name, string description) =>
        new(name) { Description = description };

    public static Option<int?> Int(string name, string description) =>
        new(name) { Description = description };

    public static Option<bool> Flag(string name, string description) =>
        new(name) { Description = description };

    /// <summary>A string option whose value the domain's parser must accept; its message becomes the usage error.</summary>
    public static Option<string?> Choice(string name, string description, Action<string> parse, bool required = false)
    {
        var option = new Option<string?>(name) { Description = description, Required = required };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string?>() is { } value)
            {
                try
                {
                    parse(value);
                }
                catch (MultiVipException e)
                {
                    result.AddError(e.Message);
                }
            }
        });
        return option;
    }

    public static Option<string?> Protocol(bool required = false) =>
        Choice("--protocol", "Transport protocol: tcp or udp.", v => EnumParsing.ParseProtocol(v), required);

    public static Option<string?> ProbeProtocol() =>
        Choice("--probe-protocol", "Probe protocol: tcp (handshake) or http (status 200; needs --probe-path).", v => EnumParsing.ParseProbeProtocol(v));

    public static Option<string?> Distribution() =>
        Choice("--distribution", "Load balancer distribution: none (5-tuple), sourceIP (2-tuple) or sourceIPProtocol (3-tuple).", v => EnumParsing.ParseDistribution(v));

    public static Option<string?> ProxyProtocol() =>
        Choice("--proxy-protocol", "PROXY protocol header sent to the VM: none, v1 or v2.", v => EnumParsing.ParseProxyProtocol(v));

    /// <summary>
    /// Repeatable --acl ORDER:permit|deny:CIDR[:description], parsed with the domain's rule parser
    /// so a malformed rule is a usage error before anything is sent.
    /// </summary>
    public static Option<IReadOnlyList<AclRule>> Acl() => new("--acl")
    {
        Description = "ACL rule ORDER:permit|deny:CIDR[:description], e.g. 100:permit:10.0.0.0/8:office. Repeat for more rules; replaces the whole ACL.",
        Arity = ArgumentArity.OneOrMore,
        CustomParser = result =>
        {
            var rules = new List<AclRule>();
            foreach (var token in result.Tokens)
            {
                try
                {
                    rules.Add(EndpointRules.ParseRule(token.Value));
                }
                catch (MultiVipException e)
                {
                    result.AddError(e.Message);
                }
            }

            return rules;
        },
    };
}
