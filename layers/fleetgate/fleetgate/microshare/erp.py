"""ERP inspection points behind one adapter interface: an upload (JSON or CSV) and Odoo over XML-RPC.

ERP_ADAPTER picks the adapter (``upload`` by default). An inspection point is a place to watch: customer,
site, area and the ERP's internal reference, which a rodent sensor carries as ``location[3]``.

Odoo: products (``product.product``, optionally only category ODOO_CATEGORY_ID) with a ``default_code``
are inspection points. The product name "A - B" gives customer and site A and area B (a name without
" - " is used for all three); ``default_code`` is the reference.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from fleetgate.core.errors import BadGateway, ConfigurationError, GatewayTimeout, InvalidInput, UnsupportedMediaType
from fleetgate.core.observability import logger
from fleetgate.core.settings import resolve_secret
from fleetgate.microshare import repository
from fleetgate.microshare.schemas import ErpStatus, InspectionPoint, InspectionPointIn
from fleetgate.microshare.settings import ErpSettings

MAX_POINTS = 5000  # per upload, and per Odoo read
MAX_REPORTED_ERRORS = 50
ODOO_PAGE = 500
_ALIASES = {"default_code": "reference", "erp_reference": "reference", "internal_reference": "reference"}
_FIELDS = set(InspectionPointIn.model_fields)


def split_name(name: str) -> tuple[str, str, str]:
    """ "Golden Crust Manchester - Flour Store" → customer and site "Golden Crust Manchester", area "Flour Store"."""
    head, sep, tail = name.partition(" - ")
    if sep and head.strip() and tail.strip():
        return head.strip(), head.strip(), tail.strip()
    return name.strip(), name.strip(), name.strip()


class InspectionPointSource(Protocol):
    name: str

    def points(self) -> list[InspectionPoint]: ...

    def status(self) -> ErpStatus: ...


# ------------------------------------------------------------------ upload
class UploadSource:
    """Points uploaded through POST /erp/inspection-points, kept in DynamoDB (each upload replaces the last)."""

    name = "upload"

    def points(self) -> list[InspectionPoint]:
        stored, _ = repository.uploaded_points()
        return [InspectionPoint(**p) for p in stored]

    def status(self) -> ErpStatus:
        stored, last = repository.uploaded_points()
        return ErpStatus(
            adapter="upload", configured=True, connected=True, inspection_points=len(stored), last_upload_at=last
        )


def parse_upload(body: str | None, content_type: str | None) -> list[InspectionPoint]:
    """Inspection points from a JSON body (a list, or ``{"items": [...]}``) or a CSV body with a header row."""
    ctype = (content_type or "").split(";")[0].strip().lower()
    if not body or not body.strip():
        raise InvalidInput("The upload is empty")
    if ctype in ("text/csv", "application/csv"):
        rows: list[Any] = [
            {k.strip().lower(): v for k, v in row.items() if k}
            for row in csv.DictReader(io.StringIO(body.lstrip("\ufeff")))
        ]
        rows = [{k: v.strip() for k, v in row.items() if isinstance(v, str) and v.strip()} for row in rows]
    elif ctype == "application/json" or ctype.endswith("+json"):
        try:
            data = json.loads(body)
        except ValueError:
            raise InvalidInput("Request body is not valid JSON") from None
        rows = data.get("items") if isinstance(data, dict) else data
        if not isinstance(rows, list):
            raise InvalidInput('Send a JSON list of inspection points, or {"items": [...]}')
    else:
        raise UnsupportedMediaType(f"Send inspection points as application/json or text/csv, not {ctype or 'no type'}")
    if len(rows) > MAX_POINTS:
        raise InvalidInput(f"At most {MAX_POINTS} inspection points per upload ({len(rows)} sent)")
    points, errors, seen = [], [], set()
    adapter = TypeAdapter(InspectionPointIn)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            errors.append({"loc": ["body", i], "msg": "Input should be an object", "type": "model_type"})
            continue
        row = {
            _ALIASES.get(k, k): (str(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v)
            for k, v in row.items()
        }
        try:
            point = adapter.validate_python({k: v for k, v in row.items() if k in _FIELDS})
        except ValidationError as exc:
            errors.extend({"loc": ["body", i, *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in exc.errors())
            continue
        if point.id in seen:
            errors.append({"loc": ["body", i, "id"], "msg": f"Duplicate id {point.id}", "type": "value_error"})
            continue
        seen.add(point.id)
        if not (point.customer and point.site and point.area) and not point.name:
            errors.append(
                {
                    "loc": ["body", i],
                    "msg": 'Give customer, site and area, or a name "Customer - Area"',
                    "type": "value_error",
                }
            )
            continue
        customer, site, area = split_name(point.name) if point.name else ("", "", "")
        points.append(
            InspectionPoint(
                id=point.id,
                reference=point.reference,
                name=point.name,
                customer=point.customer or customer,
                site=point.site or site,
                area=point.area or area,
                placement=point.placement or "Internal",
                configuration=point.configuration or "Bait/Lured",
                source="upload",
            )
        )
    if errors:
        raise InvalidInput(
            f"{len(errors)} invalid inspection point field(s)", extra={"errors": errors[:MAX_REPORTED_ERRORS]}
        )
    return points


# ------------------------------------------------------------------ Odoo
class OdooSource:
    name = "odoo"

    def __init__(self, settings: ErpSettings):
        self.settings = settings

    def _require(self) -> None:
        s = self.settings
        for value, what in (
            (s.odoo_url, "Odoo URL"),
            (s.odoo_database, "Odoo database"),
            (s.odoo_username, "Odoo username"),
            (s.odoo_password, "Odoo password"),
        ):
            if not value:
                raise ConfigurationError(f"{what} is not configured")

    def _proxy(self, path: str) -> Any:
        import xmlrpc.client

        timeout = self.settings.odoo_timeout
        base = (
            xmlrpc.client.SafeTransport
            if self.settings.odoo_url.lower().startswith("https:")
            else xmlrpc.client.Transport
        )

        class _Transport(base):  # type: ignore[misc, valid-type]
            def make_connection(self, host: Any) -> Any:
                conn = super().make_connection(host)
                conn.timeout = timeout
                return conn

        return xmlrpc.client.ServerProxy(
            self.settings.odoo_url.rstrip("/") + path, transport=_Transport(), allow_none=True
        )

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import xml.parsers.expat
        import xmlrpc.client

        try:
            yield
        except TimeoutError:
            raise GatewayTimeout("Odoo did not respond in time") from None
        except xmlrpc.client.Fault as exc:
            logger.warning("Odoo fault", extra={"fault_code": exc.faultCode})
            raise BadGateway(f"Odoo returned an error: {str(exc.faultString)[:200]}") from None
        except xmlrpc.client.ProtocolError as exc:
            raise BadGateway(f"Odoo returned HTTP {exc.errcode}") from None
        except (xmlrpc.client.ResponseError, xml.parsers.expat.ExpatError):
            raise BadGateway("Odoo returned an invalid response") from None
        except OSError:
            raise BadGateway("Could not connect to Odoo") from None

    def _login(self) -> tuple[Any, int, str]:
        self._require()
        s = self.settings
        try:
            password = resolve_secret(s.odoo_password)
        except Exception as exc:
            logger.error("Odoo password could not be read", extra={"error_type": type(exc).__name__})
            raise ConfigurationError("Odoo password could not be read") from None
        with self._errors():
            uid = self._proxy("/xmlrpc/2/common").authenticate(s.odoo_database, s.odoo_username, password, {})
        if not uid:
            raise BadGateway("Odoo rejected the configured credentials")
        return self._proxy("/xmlrpc/2/object"), uid, password

    def _domain(self) -> list[list[Any]]:
        domain: list[list[Any]] = [["default_code", "!=", False]]
        if self.settings.odoo_category_id is not None:
            domain.append(["categ_id", "=", self.settings.odoo_category_id])
        return domain

    def points(self) -> list[InspectionPoint]:
        models, uid, password = self._login()
        s, out, offset = self.settings, [], 0
        while offset < MAX_POINTS:
            with self._errors():
                page = models.execute_kw(
                    s.odoo_database,
                    uid,
                    password,
                    "product.product",
                    "search_read",
                    [self._domain()],
                    {"fields": ["id", "name", "default_code"], "offset": offset, "limit": ODOO_PAGE, "order": "id"},
                )
            if not isinstance(page, list):
                raise BadGateway("Odoo returned an invalid response")
            for product in page:
                point = _product_point(product)
                if point is not None:
                    out.append(point)
            if len(page) < ODOO_PAGE:
                break
            offset += ODOO_PAGE
        return out

    def status(self) -> ErpStatus:
        try:
            models, uid, password = self._login()
            with self._errors():
                count = models.execute_kw(
                    self.settings.odoo_database, uid, password, "product.product", "search_count", [self._domain()]
                )
            return ErpStatus(adapter="odoo", configured=True, connected=True, inspection_points=int(count))
        except ConfigurationError as exc:
            return ErpStatus(adapter="odoo", configured=False, connected=False, error=exc.message)
        except (BadGateway, GatewayTimeout) as exc:
            return ErpStatus(adapter="odoo", configured=True, connected=False, error=exc.message)


def _product_point(product: Any) -> InspectionPoint | None:
    if not isinstance(product, dict):
        return None
    code, name = product.get("default_code"), product.get("name")
    if not code or not isinstance(code, str):
        return None  # no reference, nothing to map
    name = name if isinstance(name, str) else ""
    customer, site, area = split_name(name or code)
    return InspectionPoint(
        id=str(product.get("id")),
        reference=code.strip(),
        name=name,
        customer=customer,
        site=site,
        area=area,
        source="odoo",
    )


def source(settings: ErpSettings) -> InspectionPointSource:
    if settings.adapter == "upload":
        return UploadSource()
    if settings.adapter == "odoo":
        return OdooSource(settings)
    raise ConfigurationError(f"ERP_ADAPTER must be upload or odoo, not {settings.adapter!r}")
