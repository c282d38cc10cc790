using MultiVip.Model.Errors;

namespace MultiVip.Model.Tests.Errors;

/// <summary>The Azure texts, word for word as the reference records them.</summary>
public class MessagesTests
{
    [Fact]
    public void Azure_constant_messages_are_verbatim()
    {
        Assert.Equal("Ports must be in the range of 1 - 65535", Messages.PortRange);
        Assert.Equal("ProbePath not valid with tcp", Messages.ProbePathNotValidWithTcp);
        Assert.Equal("ProbePath is required for http", Messages.ProbePathRequiredForHttp);
        Assert.Equal(
            "This cmdlet will remove the virtual IP from the specified service. Do you want to continue?",
            Messages.RemoveVirtualIpConfirmation);
    }

    [Fact]
    public void EndpointNameExists_is_verbatim() => Assert.Equal(
        "An endpoint named 'web' has already been defined for this VM. Specify a different endpoint name or use Set-Endpoint to change the configuration settings of the existing endpoint.",
        Messages.EndpointNameExists("web"));

    [Fact]
    public void LocalPortInUse_is_verbatim() => Assert.Equal(
        "Local Port 8080 for endpoint web is already in use by one of the other endpoints in this role. Ensure that the local port numbers are unique across endpoints within a role.",
        Messages.LocalPortInUse(8080, "web"));

    [Fact]
    public void LoadBalancedSetNotFound_is_verbatim() => Assert.Equal(
        "An endpoint cannot be found with the given load balancer set name 'lb1'.",
        Messages.LoadBalancedSetNotFound("lb1"));

    [Fact]
    public void EndpointNotFound_is_verbatim() => Assert.Equal(
        "An endpoint named 'web' cannot be found in the configuration of this VM.",
        Messages.EndpointNotFound("web"));

    [Fact]
    public void Numbers_are_formatted_invariantly() =>
        Assert.Contains("(got 12345)", Messages.IdleTimeout(12345), StringComparison.Ordinal);
}
