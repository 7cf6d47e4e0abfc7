"""The answers form: grouped by section, validated inline by the CLI's own validator.

The screen dismisses with NEXT and the validated :class:`~wizard.answers.Answers`
(``Result.answers``), or BACK. Nothing is applied here. Validation is
:func:`wizard.answers.parse_answers` on the whole form; each ``(field, message)`` it reports
is shown next to its field.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple, Type, TypeVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from wizard.answers import (
    ACME_CHALLENGES,
    CERT_MODES,
    INET_PROTOCOLS,
    KEY_TYPES,
    SASL_BACKENDS,
    Answers,
    Restrictions,
    read_answers_file,
)
from wizard.errors import AnswersError

from .common import StyledOnMount
from .context import WizardContext
from .form import (
    error_slot,
    int_or_text,
    lines_to_actions,
    lines_to_map,
    list_to_text,
    map_to_lines,
    save_answers,
    text_to_list,
)
from .results import Move, Result
from .widgets import (
    DryRunBanner,
    ErrorLine,
    ErrorModal,
    KeysFooter,
    LazyForm,
    MoreFields,
    PromptModal,
    PromptResult,
    StateCheckbox,
    UserRow,
    WizardHeader,
)
from .widgets.fields import FormInput, FormSelect, FormTextArea

_RATE_FIELDS = tuple((key, label, getattr(Restrictions(), key)) for key, label in (
    ("smtpd_client_connection_rate_limit", "Connections/min"),
    ("smtpd_client_message_rate_limit", "Messages/min"),
    ("smtpd_client_auth_rate_limit", "Logins (AUTH)/min")))
"""The anvil rate limits of the restrictions: answer key, label, default."""
_DELAY = Restrictions().postgrey_delay
W = TypeVar("W", bound=Widget)

#: The form's sections, in order (``_section_<name>`` makes its widgets, ``_collect_<name>``
#: reads them back), and what the "more" line calls the ones not shown yet.
SECTIONS = ("server", "users", "tls", "sasl", "restrictions", "optional", "dkim", "health")
SECTION_TITLES = {"server": "server", "users": "users and aliases", "tls": "TLS certificate",
                  "sasl": "SASL", "restrictions": "restrictions",
                  "optional": "optional steps and access", "dkim": "DKIM",
                  "health": "health report"}
#: The sections the form opens with: they fill an 80x24 screen; the others are mounted when
#: the admin tabs or scrolls to them (or when an answer of theirs needs attention).
FIRST_SECTIONS = 2


class AnswersScreen(StyledOnMount, Screen[Result]):
    """The form. ``Ctrl+N`` goes on when every answer is valid."""

    HELP_TITLE = "Answers"
    HELP = (
        "Everything mailwizard needs to know, in one form: host and domain names, users and "
        "aliases, networks allowed to relay, the certificate, the restrictions. Each field is "
        "checked as you leave it; a problem is shown under the field by name. Nothing is "
        "changed on the system here: Ctrl+N plans the steps from these answers, Ctrl+S saves "
        "them to a file for later or for other servers. In this form q types a q: quit with "
        "Ctrl+Q.")
    TITLE = "mailwizard"
    SUB_TITLE = "Answers"
    # straight to the first field: focusing the form's scroll container first (Textual's
    # default) restyles its two hundred widgets twice on the way
    AUTO_FOCUS = "#f-hostname"

    BINDINGS = [
        Binding("ctrl+n", "next", "Next"),
        Binding("escape", "back", "Back"),
        Binding("ctrl+t", "add_user", "Add user"),
        Binding("ctrl+r", "remove_user", "Del user"),
        Binding("ctrl+s", "save", "Save"),
        Binding("ctrl+o", "load", "Load"),
        # ? types a ? in a field: here help is F1 only
        Binding("f1", "app.help", "Help", key_display="F1"),
        # on a checkbox ? still opens the help, but the footer does not offer it: it would
        # come and go with the focus (each time composing the footer and laying the form
        # out again), and F1 works everywhere
        Binding("question_mark", "app.help", "Help", show=False),
    ]

    def __init__(self, ctx: WizardContext) -> None:
        super().__init__()
        self.ctx = ctx
        ctx.load()  # the form's starting content (read by the preload unless this came first)
        self.raw: Dict[str, Any] = copy.deepcopy(ctx.raw)
        self.touched: Set[str] = set()
        self._baseline: Optional[Dict[str, Any]] = None
        self.show_all = bool(ctx.raw_errors) or ctx.prefilled
        self.errors: List[Tuple[str, str]] = []
        self._validation_due = False
        self.shown: List[str] = list(SECTIONS[:FIRST_SECTIONS])
        """The sections mounted so far."""
        self._revealing = False
        self._by_id: Optional[Dict[str, Widget]] = None
        """The form's widgets by id (a query walks all two hundred of them: collecting the
        form asks for fifty fields, and every key that validates collects it)."""

    # ------------------------------------------------------------------ layout
    def _get(self, *path: str, default: Any = "") -> Any:
        node: Any = self.raw
        for p in path:
            if not isinstance(node, dict):
                return default
            node = node.get(p, default)
        return default if node is None else node

    @staticmethod
    def _row(label: str, widget: Widget, key: str, hint: str = "") -> Iterable[Widget]:
        row = Horizontal(Label(label, classes="field-label"), widget, classes="field")
        row.tooltip = hint or None
        yield row
        yield ErrorLine(id=f"err-{key}")

    def _input(self, key: str, value: Any, placeholder: str = "", **kw: Any) -> Input:
        return FormInput(str(value), placeholder=placeholder, id=f"f-{key}", compact=True,
                         **kw)

    def _select(self, key: str, options: Iterable[str], value: Any) -> Select[str]:
        opts = list(options)
        val = str(value) if str(value) in opts else opts[0]
        return FormSelect([(o, o) for o in opts], value=val, allow_blank=False,
                          id=f"f-{key}", compact=True)

    def _check(self, key: str, label: str, value: Any) -> Checkbox:
        return StateCheckbox(label, bool(value), id=f"f-{key}", compact=True)

    def compose(self) -> ComposeResult:
        yield WizardHeader()
        if self.ctx.dry_run:
            yield DryRunBanner(self.ctx.dry_run_reason)
        yield Static("Tab moves between fields, Ctrl+N goes on. Nothing is applied here.",
                     id="answers-intro")
        yield ErrorLine(id="err-general")
        with LazyForm(id="answers-form"):
            for name in SECTIONS[:FIRST_SECTIONS]:
                yield from self._section_widgets(name)
            yield MoreFields(self._more_text(FIRST_SECTIONS), id="answers-more")
        yield KeysFooter()

    def _section_server(self) -> Iterable[Widget]:
        """Host and domain names, networks."""
        yield Label("Server", classes="section")
        yield from self._row("Host name", self._input(
            "hostname", self._get("hostname"), "mail.example.com"), "hostname",
            "The server's fully qualified name (myhostname); the MX record points here.")
        yield from self._row("Mail domain", self._input(
            "domain", self._get("domain"), "example.com"), "domain")
        yield from self._row("Trusted networks", self._input(
            "mynetworks", list_to_text(self._get(
                "mynetworks", default=["127.0.0.0/8", "[::1]/128"])),
            "e.g. 127.0.0.0/8"), "mynetworks",
            "Clients allowed to relay without logging in. Keep it small.")
        yield from self._row("Listen on", self._input(
            "inet_interfaces", self._get("inet_interfaces", default="all"), "all"),
            "inet_interfaces")
        yield from self._row("IP protocols", self._select(
            "inet_protocols", INET_PROTOCOLS, self._get("inet_protocols", default="all")),
            "inet_protocols")

    def _section_users(self) -> Iterable[Widget]:
        """Admin, users and aliases."""
        yield Label("Users & aliases", classes="section")
        yield from self._row("Admin user", self._input(
            "admin_user", self._get("admin_user"), "receives root's mail"), "admin_user")
        yield Static("Users: name, create the account, password (Ctrl+T/Ctrl+R add/remove)",
                     classes="hint")
        yield Vertical(*(UserRow(user) for user in self._get("users", default=[]) or []),
                       id="users")
        yield ErrorLine(id="err-users")
        yield Label("Aliases, one per line: name: target, target", classes="hint")
        yield FormTextArea(map_to_lines(self._get("aliases", default={})), id="f-aliases",
                           compact=True, classes="map")
        yield ErrorLine(id="err-aliases")
        yield from self._row("Virtual domains", self._input(
            "virtual_alias_domains",
            list_to_text(self._get("virtual_alias_domains", default=[])),
            "example.net"), "virtual_alias_domains")
        yield Label("Virtual aliases: address: target, target", classes="hint")
        yield FormTextArea(map_to_lines(self._get("virtual_aliases", default={})),
                           id="f-virtual_aliases", compact=True, classes="map")
        yield ErrorLine(id="err-virtual_aliases")

    def _section_tls(self) -> Iterable[Widget]:
        """The certificate."""
        yield Label("TLS certificate", classes="section")
        yield from self._row("Mode", self._select(
            "certificate-mode", CERT_MODES,
            self._get("certificate", "mode", default="self-signed")), "certificate-mode")
        yield from self._row("Key type", self._select(
            "certificate-key_type", KEY_TYPES,
            self._get("certificate", "key_type", default="rsa2048")),
            "certificate-key_type")
        yield from self._row("Valid days", self._input(
            "certificate-days", self._get("certificate", "days", default=825), "825"),
            "certificate-days")
        yield from self._row("Organization", self._input(
            "certificate-organization", self._get("certificate", "organization")),
            "certificate-organization")
        yield from self._row("Country (2 letters)", self._input(
            "certificate-country", self._get("certificate", "country"), "GB"),
            "certificate-country")
        yield from self._row("Common name", self._input(
            "certificate-common_name", self._get("certificate", "common_name"),
            "(the host name)"), "certificate-common_name")
        yield from self._row("Import: cert file", self._input(
            "certificate-cert_file", self._get("certificate", "cert_file"),
            "/path/cert.pem (mode import)"), "certificate-cert_file")
        yield from self._row("Import: key file", self._input(
            "certificate-key_file", self._get("certificate", "key_file"),
            "/path/key.pem (mode import)"), "certificate-key_file")
        yield from self._row("Import: chain file", self._input(
            "certificate-chain_file", self._get("certificate", "chain_file"),
            "/path/chain.pem (optional)"), "certificate-chain_file",
            "Intermediate certificates sent after yours (import mode).")
        yield from self._row("ACME directory", self._input(
            "certificate-acme_directory", self._get("certificate", "acme_directory"),
            "(Let's Encrypt)"), "certificate-acme_directory",
            "Mode acme: certbot gets the certificate from this CA (https URL).")
        yield from self._row("ACME e-mail", self._input(
            "certificate-acme_email", self._get("certificate", "acme_email"),
            "(none)"), "certificate-acme_email")
        yield from self._row("ACME challenge", self._select(
            "certificate-acme_challenge", ACME_CHALLENGES,
            self._get("certificate", "acme_challenge", default="standalone")),
            "certificate-acme_challenge",
            "standalone: certbot answers on port 80; webroot: your web server does.")
        yield from self._row("ACME web root", self._input(
            "certificate-acme_webroot", self._get("certificate", "acme_webroot"),
            "/var/www/html (webroot)"), "certificate-acme_webroot")
        yield from self._row("ACME CA bundle", self._input(
            "certificate-acme_ca_bundle", self._get("certificate", "acme_ca_bundle"),
            "(system CAs)"), "certificate-acme_ca_bundle")
        yield from self._row("Other names (SAN)", self._input(
            "certificate-extra_names",
            list_to_text(self._get("certificate", "extra_names", default=[])),
            "imap.example.com, smtp.example.com"), "certificate-extra_names",
            "More host names the certificate must cover, besides the host name.")
        yield self._check("certificate-csr", "Also write a signing request (CSR) for a CA",
                          self._get("certificate", "csr", default=False))
        yield ErrorLine(id="err-certificate-csr")

    def _section_sasl(self) -> Iterable[Widget]:
        """SASL authentication."""
        yield Label("SASL authentication", classes="section")
        yield from self._row("Backend", self._select(
            "sasl-backend", SASL_BACKENDS, self._get("sasl", "backend", default="dovecot")),
            "sasl-backend")
        yield from self._row("Only group", self._input(
            "sasl-pam_group", self._get("sasl", "pam_group"), "(anyone with an account)"),
            "sasl-pam_group")

    def _section_restrictions(self) -> Iterable[Widget]:
        """What the server refuses."""
        yield Label("Restrictions", classes="section")
        yield from self._row("Block lists (RBL)", self._input(
            "restrictions-rbl", list_to_text(self._get("restrictions", "rbl", default=[])),
            "zen.spamhaus.org=127.0.0.[2..11]"), "restrictions-rbl",
            "Keep the =127.0.0.[2..11] filter: through a public resolver (8.8.8.8, "
            "1.1.1.1...) Spamhaus answers 127.255.255.x, which without it rejects all mail.")
        yield self._check("restrictions-helo_required", "Require HELO/EHLO",
                          self._get("restrictions", "helo_required", default=True))
        yield ErrorLine(id="err-restrictions-helo_required")
        yield self._check("restrictions-reject_unknown_helo",
                          "Strict HELO: reject names without DNS (may lose mail)",
                          self._get("restrictions", "reject_unknown_helo", default=False))
        yield ErrorLine(id="err-restrictions-reject_unknown_helo")
        yield self._check("restrictions-reject_unknown_client",
                          "Strict client: reject addresses without reverse DNS",
                          self._get("restrictions", "reject_unknown_client", default=False))
        yield ErrorLine(id="err-restrictions-reject_unknown_client")
        yield self._check("restrictions-sender_login",
                          "Port 587: users send only as their own addresses",
                          self._get("restrictions", "sender_login", default=True))
        yield ErrorLine(id="err-restrictions-sender_login")
        yield self._check("restrictions-spf", "Check senders' SPF (refuse on fail)",
                          self._get("restrictions", "spf", default=True))
        yield ErrorLine(id="err-restrictions-spf")
        yield Label(Text("Sender access, one per line: sender: REJECT|OK|DISCARD|HOLD "
                         "[text]"), classes="hint")
        yield FormTextArea(
            map_to_lines(self._get("restrictions", "sender_access", default={})),
            id="f-restrictions-sender_access", compact=True, classes="map")
        yield ErrorLine(id="err-restrictions-sender_access")
        yield from self._row("Max message bytes", self._input(
            "restrictions-message_size_limit",
            self._get("restrictions", "message_size_limit", default=0),
            "0 keeps Postfix's 10 MB"), "restrictions-message_size_limit",
            "message_size_limit in bytes; 0 keeps Postfix's default.")
        yield from self._row("Error sleep (s)", self._input(
            "restrictions-smtpd_error_sleep_time",
            self._get("restrictions", "smtpd_error_sleep_time", default=1), "1"),
            "restrictions-smtpd_error_sleep_time",
            "Pause after each client error (smtpd_error_sleep_time).")
        yield from self._row("Soft error limit", self._input(
            "restrictions-smtpd_soft_error_limit",
            self._get("restrictions", "smtpd_soft_error_limit", default=10), "10"),
            "restrictions-smtpd_soft_error_limit",
            "Errors before each reply is delayed (smtpd_soft_error_limit).")
        yield from self._row("Hard error limit", self._input(
            "restrictions-smtpd_hard_error_limit",
            self._get("restrictions", "smtpd_hard_error_limit", default=20), "20"),
            "restrictions-smtpd_hard_error_limit",
            "Errors before the client is disconnected (smtpd_hard_error_limit).")
        yield from self._row("Postgrey delay (s)", self._input(
            "restrictions-postgrey_delay",
            self._get("restrictions", "postgrey_delay", default=_DELAY), str(_DELAY)),
            "restrictions-postgrey_delay",
            "How long postgrey makes an unknown sender wait (optional postgrey step).")
        for key, label, default in _RATE_FIELDS:
            yield from self._row(label, self._input(
                f"restrictions-{key}", self._get("restrictions", key, default=default),
                str(default)), f"restrictions-{key}",
                f"Per client and minute ({key}); 0: no limit.")

    def _section_optional(self) -> Iterable[Widget]:
        """Optional steps and access."""
        yield Label("Optional steps and access", classes="section")
        steps = self._get("steps", default={}) or {}
        yield self._check("steps-firewall", "Open the mail ports in the firewall",
                          steps.get("firewall", True))
        yield self._check("steps-postgrey", "Greylisting with postgrey",
                          steps.get("postgrey", False))
        yield self._check("steps-virtual-aliases", "Virtual alias domains",
                          steps.get("virtual-aliases", True))
        yield ErrorLine(id="err-steps")
        yield self._check("imap", "IMAP (IMAPS 993)", self._get("imap", default=True))
        yield ErrorLine(id="err-imap")
        yield self._check("pop3", "POP3 (POP3S 995)", self._get("pop3", default=True))
        yield ErrorLine(id="err-pop3")
        yield self._check("plaintext_ports", "Also open 110/143 (STARTTLS)",
                          self._get("plaintext_ports", default=False))

    def _section_dkim(self) -> Iterable[Widget]:
        """DKIM signing."""
        yield Label("DKIM signing", classes="section")
        yield self._check("dkim-enabled", "Sign outgoing mail with DKIM (OpenDKIM)",
                          self._get("dkim", "enabled", default=True))
        yield ErrorLine(id="err-dkim-enabled")
        yield from self._row("Selector", self._input(
            "dkim-selector", self._get("dkim", "selector"),
            "(s + year and month, e.g. s202612)"), "dkim-selector",
            "The DNS label of the key: <selector>._domainkey.<domain>. Kept once saved.")
        yield from self._row("Extra domains", self._input(
            "dkim-domains", list_to_text(self._get("dkim", "domains", default=[])),
            "(mail domain and virtual domains always)"), "dkim-domains",
            "More domains to sign for, besides the mail domain and the virtual domains.")

    def _section_health(self) -> Iterable[Widget]:
        """The scheduled health check (step health-timer): off while no address is given."""
        yield Label("Health report (optional)", classes="section")
        yield from self._row("Mail reports to", self._input(
            "health_check-mail_to", self._get("health_check", "mail_to"),
            "(empty: no scheduled check)"), "health_check-mail_to",
            "Runs mailwizard check on a schedule and mails the report to this address "
            "whenever the result changes (warnings and failures).")
        yield from self._row("Schedule", self._input(
            "health_check-schedule", self._get("health_check", "schedule", default="daily"),
            "hourly, daily, weekly or HH:MM"), "health_check-schedule",
            "When the check runs: hourly, daily, weekly, or every day at HH:MM (24 h, the "
            "server's time).")

    def _section_widgets(self, name: str) -> List[Widget]:
        return list(getattr(self, f"_section_{name}")())

    @staticmethod
    def _more_text(shown: int) -> str:
        names = ", ".join(SECTION_TITLES[n] for n in SECTIONS[shown:])
        return f"More: {names} (Tab here or scroll down to show them)"

    def on_mount(self) -> None:
        self.validate()
        self.query_one("#f-hostname", Input).focus()
        self._take_baseline()
        self.call_after_refresh(self._fill_screen)

    def _take_baseline(self) -> None:
        self._baseline = self.collect()

    # ------------------------------------------------------------------ sections
    @property
    def all_shown(self) -> bool:
        return len(self.shown) == len(SECTIONS)

    async def reveal(self, count: Optional[int] = None, focus: bool = False) -> None:
        """Mount the next ``count`` sections (None: all the rest); ``focus``: move the focus
        to the first field they bring."""
        if self._revealing:
            return
        todo = [n for n in SECTIONS if n not in self.shown][:count]
        more = self._widget("answers-more")
        if not todo or not isinstance(more, MoreFields):
            return
        self._revealing = True
        try:
            widgets = [w for name in todo for w in self._section_widgets(name)]
            await self.query_one("#answers-form", LazyForm).mount_all(widgets, before=more)
            self._by_id = None
            if self._baseline is not None:  # what the new fields show is not an edit
                baseline = copy.deepcopy(self._baseline)
                for name in todo:
                    getattr(self, f"_collect_{name}")(baseline)
                self._baseline = baseline
            self.shown += todo
            if self.all_shown:
                await more.remove()
                self._by_id = None
            else:
                more.update(self._more_text(len(self.shown)))
            self.validate()
            first = next((w for top in widgets
                          for w in top.walk_children(Widget, with_self=True)
                          if w.focusable), None)
            if focus and first is not None:
                first.focus()
        finally:
            self._revealing = False
        self.call_after_refresh(self._fill_screen)

    async def _fill_screen(self) -> None:
        """A tall terminal shows the "more" line at once: show sections until it is below
        the fold."""
        more = self._widget("answers-more")
        form = self.query_one("#answers-form", LazyForm)
        if (isinstance(more, MoreFields) and more.is_mounted
                and more.virtual_region.y < form.scroll_y + form.scrollable_content_region.height):
            await self.reveal(1)

    @on(MoreFields.Reached)
    async def _more_reached(self) -> None:
        await self.reveal(1, focus=True)

    @on(LazyForm.NearEnd)
    async def _near_end(self) -> None:
        if not isinstance(self.focused, MoreFields):  # scrolled there by Tab: Reached shows
            await self.reveal(1)

    def edited(self) -> bool:
        """Whether the form differs from what it showed when it opened."""
        return self._baseline is not None and self.collect() != self._baseline

    # ------------------------------------------------------------------ data
    def _widgets(self) -> Dict[str, Widget]:
        if self._by_id is None:
            self._by_id = {w.id: w for w in self.walk_children(Widget) if w.id}
        return self._by_id

    def _widget(self, wid: str) -> Optional[Widget]:
        """The form's widget with id ``wid`` (None when there is none)."""
        return self._widgets().get(wid)

    def _field(self, key: str, kind: Type[W]) -> W:
        widget = self._widget(f"f-{key}")
        if not isinstance(widget, kind):
            raise NoMatches(f"no {kind.__name__} #f-{key} in the answers form")
        return widget

    def _rows(self) -> List[UserRow]:
        users = self._widget("users")
        return list(users.query_children(UserRow)) if users is not None else []

    def _val(self, key: str) -> str:
        return self._field(key, Input).value.strip()

    def _sel(self, key: str) -> str:
        return str(self._field(key, Select).value)

    def _bool(self, key: str) -> bool:
        return bool(self._field(key, Checkbox).value)

    def collect(self) -> Dict[str, Any]:
        """The form as an answers mapping; answers the form does not show are kept, and so
        are those of the sections not shown yet (they hold what the form started with)."""
        data: Dict[str, Any] = copy.deepcopy(self.raw)
        for name in self.shown:
            getattr(self, f"_collect_{name}")(data)
        return data

    def _collect_server(self, data: Dict[str, Any]) -> None:
        data["hostname"] = self._val("hostname")
        data["domain"] = self._val("domain")
        data["mynetworks"] = text_to_list(self._val("mynetworks"))
        data["inet_interfaces"] = self._val("inet_interfaces") or "all"
        data["inet_protocols"] = self._sel("inet_protocols")

    def _collect_users(self, data: Dict[str, Any]) -> None:
        data["admin_user"] = self._val("admin_user")
        data["users"] = [row.value() for row in self._rows()]
        data["aliases"] = lines_to_map(self._field("aliases", TextArea).text)
        data["virtual_alias_domains"] = text_to_list(self._val("virtual_alias_domains"))
        data["virtual_aliases"] = lines_to_map(
            self._field("virtual_aliases", TextArea).text)

    def _collect_tls(self, data: Dict[str, Any]) -> None:
        cert = dict(data.get("certificate") or {})
        cert["mode"] = self._sel("certificate-mode")
        cert["key_type"] = self._sel("certificate-key_type")
        days = self._val("certificate-days")
        cert["days"] = int(days) if days.isdigit() else (days or 825)
        cert["acme_challenge"] = self._sel("certificate-acme_challenge")
        for key in ("organization", "country", "common_name", "cert_file", "key_file",
                    "chain_file", "acme_directory", "acme_email", "acme_webroot",
                    "acme_ca_bundle"):
            value = self._val(f"certificate-{key}")
            if value:
                cert[key] = value
            else:
                cert.pop(key, None)
        extra = text_to_list(self._val("certificate-extra_names"))
        if extra:
            cert["extra_names"] = extra
        else:
            cert.pop("extra_names", None)
        if self._bool("certificate-csr"):
            cert["csr"] = True
        else:
            cert.pop("csr", None)
        data["certificate"] = cert

    def _collect_sasl(self, data: Dict[str, Any]) -> None:
        data["sasl"] = {"backend": self._sel("sasl-backend"),
                        "pam_group": self._val("sasl-pam_group")}

    def _collect_restrictions(self, data: Dict[str, Any]) -> None:
        restr = dict(data.get("restrictions") or {})
        restr["rbl"] = text_to_list(self._val("restrictions-rbl"))
        restr["helo_required"] = self._bool("restrictions-helo_required")
        restr["reject_unknown_helo"] = self._bool("restrictions-reject_unknown_helo")
        restr["reject_unknown_client"] = self._bool("restrictions-reject_unknown_client")
        restr["sender_login"] = self._bool("restrictions-sender_login")
        restr["spf"] = self._bool("restrictions-spf")
        restr["sender_access"] = lines_to_actions(
            self._field("restrictions-sender_access", TextArea).text)
        for key, default in (("message_size_limit", 0), ("smtpd_error_sleep_time", 1),
                             ("smtpd_soft_error_limit", 10), ("smtpd_hard_error_limit", 20),
                             ("postgrey_delay", _DELAY),
                             *((k, d) for k, _, d in _RATE_FIELDS)):
            restr[key] = int_or_text(self._val(f"restrictions-{key}"), default)
        data["restrictions"] = restr

    def _collect_optional(self, data: Dict[str, Any]) -> None:
        steps = dict(data.get("steps") or {})
        for step in ("firewall", "postgrey", "virtual-aliases"):
            steps[step] = self._bool(f"steps-{step}")
        data["steps"] = steps
        for key in ("imap", "pop3", "plaintext_ports"):
            data[key] = self._bool(key)

    def _collect_dkim(self, data: Dict[str, Any]) -> None:
        dkim = dict(data.get("dkim") or {})
        dkim["enabled"] = self._bool("dkim-enabled")
        selector = self._val("dkim-selector")
        if selector:
            dkim["selector"] = selector
        else:  # the parse gives today's default, which the saved answers then keep
            dkim.pop("selector", None)
        domains = text_to_list(self._val("dkim-domains"))
        if domains:
            dkim["domains"] = domains
        else:
            dkim.pop("domains", None)
        data["dkim"] = dkim

    def _collect_health(self, data: Dict[str, Any]) -> None:
        health = dict(data.get("health_check") or {})
        health["mail_to"] = self._val("health_check-mail_to")
        health["schedule"] = self._val("health_check-schedule") or "daily"
        if not health["mail_to"] and not data.get("health_check"):
            return  # nothing asked for: the answers keep no empty section
        data["health_check"] = health

    # ------------------------------------------------------------------ validation
    def validate(self) -> Optional[Answers]:
        """Run the CLI's validation and show each message next to its field."""
        answers, errors = self.ctx.validate(self.collect())
        self.errors = errors
        by_slot: Dict[str, List[str]] = {}
        for field, message in errors:
            by_slot.setdefault(error_slot(field), []).append(f"{field}: {message}")
        general: List[str] = []
        shown_slots: Set[str] = set()
        rows = self._rows()
        for slot, messages in by_slot.items():
            if not (self.show_all or self._touched(slot)):
                continue
            m = re.fullmatch(r"users-(\d+)", slot)
            if (m and int(m.group(1)) < len(rows)) or self._widget(f"err-{slot}"):
                shown_slots.add(slot)
            else:
                general.extend(messages)
                if not self.all_shown:  # its field may be in a section not shown yet
                    self.call_later(self.reveal)
        for n, row in enumerate(rows):
            slot = f"users-{n}"
            row.show_errors(by_slot.get(slot, []) if slot in shown_slots else [])
        for wid, widget in self._widgets().items():
            slot = wid[4:]
            if not wid.startswith("err-") or slot == "general" or not isinstance(widget, ErrorLine):
                continue
            widget.show(by_slot.get(slot, []) if slot in shown_slots else [])
        gen = self._widget("err-general")
        assert isinstance(gen, ErrorLine)
        gen.show(general)
        return answers

    def _touched(self, slot: str) -> bool:
        if slot.startswith("users"):
            return "users" in self.touched
        return slot in self.touched

    def _touch(self, widget: Widget) -> None:
        if widget.id and widget.id.startswith("f-"):
            self.touched.add(widget.id[2:])
        elif any(isinstance(a, UserRow) for a in widget.ancestors):
            self.touched.add("users")

    @on(Input.Changed)
    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(TextArea.Changed)
    def _changed(self, event: Any) -> None:
        widget = getattr(event, "control", None) or getattr(event, "text_area", None)
        if isinstance(widget, Widget) and self.is_mounted:
            self._touch(widget)
            self._validate_soon()

    def _validate_soon(self) -> None:
        """One validation for the changes of one refresh (every field posts a change as the
        form fills in; a key changes one field), not one per change."""
        if not self._validation_due:
            self._validation_due = True
            self.call_after_refresh(self._validate_due)

    def _validate_due(self) -> None:
        self._validation_due = False
        self.validate()

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.focus_next()

    # ------------------------------------------------------------------ actions
    async def action_next(self) -> None:
        answers = self.validate()
        if answers is None:
            self.show_all = True
            await self.reveal()
            self.validate()
            self.notify(f"{len(self.errors)} answer(s) need attention (shown in red).",
                        title="Not yet", severity="warning")
            self._focus_first_error()
            return
        self.ctx.answers_unkept |= self.edited()
        self.ctx.set_raw(self.collect())
        self.ctx.raw_errors = []
        self.dismiss(Result(Move.NEXT, answers=answers))

    def _focus_first_error(self) -> None:
        for widget in self.query(".field-error.-shown").results(Static):
            slot = (widget.id or "")[4:]
            target: Optional[Widget] = None
            if widget.has_class("user-error") and isinstance(widget.parent, UserRow):
                target = widget.parent.query_one(".user-name", Input)
            elif slot == "general":
                continue
            else:
                found = self.query(f"#f-{slot}")
                target = found.first() if found else None
            if target is not None:
                target.focus()
                target.scroll_visible()
                return

    def action_back(self) -> None:
        self.ctx.answers_unkept |= self.edited()
        self.ctx.set_raw(self.collect())
        self.dismiss(Result(Move.BACK))

    async def action_add_user(self) -> None:
        users = self._widget("users")
        assert users is not None
        row = UserRow({"name": "", "create": True})
        await users.mount(row)
        row.query_one(".user-name", Input).focus()
        self.touched.add("users")
        self.validate()

    async def action_remove_user(self) -> None:
        rows = self._rows()
        if not rows:
            self.notify("There is no user to remove.")
            return
        focused = self.focused
        row = next((r for r in rows if focused is not None and focused in r.walk_children()),
                   rows[-1])
        await row.remove()
        self.touched.add("users")
        self.validate()

    def action_save(self) -> None:
        default = self.ctx.answers_saved_to or str(self.ctx.files_dir() / "mailwizard-answers.yaml")
        self.app.push_screen(
            PromptModal("Save the answers to a file", default,
                        flag_label="Include the passwords (the file is then mode 0600)",
                        help_text="Passwords are left out unless you tick the box."),
            callback=self._save_to)

    def _save_to(self, result: Optional[PromptResult]) -> None:
        if result is None:
            return
        path = Path(result.value).expanduser()
        try:
            note = save_answers(self.collect(), path, with_passwords=result.flag)
        except OSError as exc:
            self.app.push_screen(ErrorModal("Cannot save the answers", f"{path}: {exc}"))
            return
        self.ctx.answers_saved_to = str(path)
        self.notify(f"Saved to {path}{note}.", title="Answers saved")

    def action_load(self) -> None:
        default = self.ctx.answers_saved_to or str(self.ctx.files_dir() / "mailwizard-answers.yaml")
        self.app.push_screen(PromptModal("Load answers from a file", default),
                             callback=self._load_from)

    async def _load_from(self, result: Optional[PromptResult]) -> None:
        if result is None:
            return
        path = Path(result.value).expanduser()
        try:
            data = read_answers_file(path)
        except AnswersError as exc:
            self.app.push_screen(ErrorModal("Cannot load the answers",
                                            "; ".join(msg for _, msg in exc.errors)))
            return
        if not isinstance(data, dict):
            self.app.push_screen(ErrorModal("Cannot load the answers",
                                            f"{path} is not a mapping of answers"))
            return
        self.raw = data
        self.ctx.answers_saved_to = str(path)
        self.show_all = True
        self._by_id = None
        self.shown = list(SECTIONS[:FIRST_SECTIONS])
        await self.recompose()
        self._by_id = None
        self.validate()
        self.query_one("#f-hostname", Input).focus()
        self.notify(f"Loaded {path}.", title="Answers loaded")
