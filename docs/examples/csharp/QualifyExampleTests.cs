// A partner's xunit suite against qualify (docs/testing.md), through Microsoft's official .NET
// SDK with its base URL pointed at qualify, plus plain HttpClient calls for qualify's control
// endpoints (the SDK knows nothing of them).
//
// NOT VERIFIED: no .NET SDK runs on the machines this repository is built on, so this file has
// never been compiled here. The qualify side (paths, bodies, answers) is the same as the pytest
// example that CI runs; the Partner Center SDK calls are written from Microsoft's published
// samples and are marked "SDK:" below. Check them against the SDK version you use.
//
// Run: QUALIFY_BIN=/path/to/qualify dotnet test

using System;
using System.Diagnostics;
using System.Linq;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using System.Threading.Tasks;
using Microsoft.Store.PartnerCenter;                    // SDK: PartnerService, IAggregatePartner
using Microsoft.Store.PartnerCenter.Extensions;         // SDK: PartnerCredentials
using Microsoft.Store.PartnerCenter.Models.Customers;   // SDK: CustomerQualificationRequest (namespace unverified)
using Xunit;

/// One `qualify serve` for the test class: in memory, on a free port.
public sealed class QualifyServer : IAsyncLifetime
{
    public static readonly string Bin = Environment.GetEnvironmentVariable("QUALIFY_BIN") ?? "qualify";
    private Process? process;
    public string BaseUrl { get; private set; } = "";

    public async Task InitializeAsync()
    {
        process = Process.Start(new ProcessStartInfo(Bin,
            "serve --listen 127.0.0.1:0 --database sqlite::memory: --rate-limit-per-minute 0")
        { RedirectStandardOutput = true, UseShellExecute = false })!;
        // The first line on stdout is `listening on http://HOST:PORT`.
        var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(30));
        BaseUrl = line!.Substring("listening on ".Length).Trim();
        using var http = new HttpClient();
        for (var i = 0; (await http.GetAsync($"{BaseUrl}/readyz")).StatusCode != System.Net.HttpStatusCode.OK; i++)
        {
            if (i > 300) throw new TimeoutException("qualify serve never became ready");
            await Task.Delay(50);
        }
    }

    public Task DisposeAsync()
    {
        process?.Kill();
        return Task.CompletedTask;
    }

    /// `qualify token ...`: prints the token alone on stdout.
    public static string Token(string args)
    {
        using var p = Process.Start(new ProcessStartInfo(Bin, $"token {args}")
        { RedirectStandardOutput = true, UseShellExecute = false })!;
        var token = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return token;
    }
}

public class QualificationTests : IClassFixture<QualifyServer>
{
    private readonly QualifyServer server;
    public QualificationTests(QualifyServer server) => this.server = server;

    [Fact]
    public async Task EducationIsApprovedOnceTheClockPassesTheScenariosDelay()
    {
        // A partner tenant of this test's own: no other test sees or changes its state.
        var partner = Guid.NewGuid().ToString();
        using var admin = new HttpClient { BaseAddress = new Uri($"{server.BaseUrl}/admin/v1/partners/{partner}/") };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer",
            QualifyServer.Token($"--tenant {partner} --admin --app-only"));
        async Task<JsonNode> Control(HttpMethod method, string path, object? body = null)
        {
            var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
            var response = await admin.SendAsync(request);
            response.EnsureSuccessStatusCode();
            return JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        }

        // State: a customer from a fixture, a frozen clock, a scenario.
        var customer = Guid.NewGuid().ToString();
        await Control(HttpMethod.Post, $"{server.BaseUrl}/admin/v1/seed", new
        {
            version = 1,
            partners = new[] { new { id = partner, customers = new[] { new { id = customer, companyProfile = new { domain = "contoso.onmicrosoft.com" } } } } },
        });
        await Control(HttpMethod.Put, "clock", new { frozenAt = "2030-01-01T00:00:00Z" });
        await Control(HttpMethod.Put, "vetting", new
        {
            rules = new object[] { new { match = new { qualification = "Education" }, outcome = "Approved", after = "72h" } },
        });

        // SDK: the official client, its base URL pointed at qualify, a qualify dev token.
        PartnerService.Instance.ApiRootUrl = server.BaseUrl;
        IPartnerCredentials credentials = PartnerCredentials.Instance.GenerateByUserCredentials(
            "00000000-0000-0000-0000-000000000000",
            new AuthenticationToken(QualifyServer.Token($"--tenant {partner}"), DateTimeOffset.UtcNow.AddHours(1)));
        IAggregatePartner partnerOperations = PartnerService.Instance.CreatePartnerOperations(credentials);
        var qualification = partnerOperations.Customers.ById(customer).Qualification;

        // SDK: POST /v1/customers/{id}/qualifications.
        var created = await qualification.CreateQualificationsAsync(new CustomerQualificationRequest
        {
            Qualification = "Education",
            EducationSegment = "HigherEducation",
            Website = "contoso.edu",
        });
        Assert.Equal("InReview", created.VettingStatus);

        // Time moves by the clock: synchronous, the answer lists what it decided. Never sleep.
        var advanced = await Control(HttpMethod.Post, "clock/advance", new { by = "72h" });
        Assert.Equal("Approved", advanced["applied"]![0]!["to"]!.GetValue<string>());

        // SDK: GET /v1/customers/{id}/qualifications.
        var all = await qualification.GetQualificationsAsync();
        Assert.Equal("Approved", all.Single().VettingStatus);
    }
}
