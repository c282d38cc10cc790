namespace MultiVip.Model.Services;

/// <summary>
/// A backend's probe verdict. Domain vocabulary rather than a data-plane type: the API shows it
/// (deployment show, Get-AzureDeployment) and every data plane reports it, so both contracts speak
/// the domain's word for it, as they do for <see cref="TransportProtocol"/>.
/// </summary>
public enum HealthState
{
    /// <summary>Not probed yet (a new member starts in rotation, as Azure's do).</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("Unknown")]
    Unknown,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("Healthy")]
    Healthy,
    [System.Text.Json.Serialization.JsonStringEnumMemberName("Unhealthy")]
    Unhealthy,

    /// <summary>The endpoint has no probe: it always receives traffic.</summary>
    [System.Text.Json.Serialization.JsonStringEnumMemberName("NotProbed")]
    NotProbed,
}
