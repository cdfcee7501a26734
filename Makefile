# Fleetgate developer commands. Needs only Python 3.11 and Node; everything else installs
# into .venv/ and node_modules/. `make dev` serves the whole API locally; `make test` runs the suite.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
DDB_SIMULATOR := amplify-dynamodb-simulator@2.9.30

export AWS_DEFAULT_REGION ?= us-east-1
export SAM_CLI_TELEMETRY ?= 0

.PHONY: install dev dev-ddb test fuzz lint format invoke create-admin bench validate build clean

install: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): requirements-dev.txt layers/fleetgate/requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "Fleetgate needs Python 3.11 (the Lambda runtime); set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

# swagger-ui-dist serves /docs offline. DynamoDB Local comes from the jar inside the npm package
# amplify-dynamodb-simulator; only its emulator/ folder is used, so it is unpacked without its JS dependencies.
$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	mkdir -p .localcloud/npm node_modules/amplify-dynamodb-simulator
	cd .localcloud/npm && npm pack --silent $(DDB_SIMULATOR) >/dev/null
	tar -xzf .localcloud/npm/amplify-dynamodb-simulator-*.tgz -C node_modules/amplify-dynamodb-simulator --strip-components=1
	touch $@

## Serve every function on an embedded moto until Ctrl-C: the main API at http://127.0.0.1:3000, the Microshare API at
## :3001 (each with /docs), with a demo seeded (ARGS=--no-demo: empty). Shell variables the contracts name
## (MOBIVISOR_API_URL, MICROSHARE_*, API_TIMEOUT, ...) set the template parameters they feed; ARGS="--param X=Y" wins.
dev: install
	$(BIN)/python -m localcloud serve $(ARGS)

## The same, with DynamoDB Local (the real engine, needs Java) keeping data in .localcloud/ between runs.
dev-ddb: install
	$(BIN)/python -m localcloud serve --dynamodb local $(ARGS)

## Lint and format check (ruff), then the test suite. Lanes that need Java (DynamoDB Local) or mosquitto skip,
## saying how to get them, when absent.
test: install lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Schemathesis over the merged OpenAPI document, the long profile (make test runs 8 examples per operation
## within 5 minutes): FUZZ_EXAMPLES per operation and caller, FUZZ_SECONDS in total.
FUZZ_EXAMPLES ?= 100
FUZZ_SECONDS ?= 1800
fuzz: install
	FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python -m pytest tests/test_openapi_fuzz.py $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Rewrite the code in the project's format and apply ruff's safe fixes.
format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make invoke FUNCTION=DevicesFunction EVENT=events/devices-list.json
invoke: install
	$(BIN)/python -m localcloud invoke $(FUNCTION) $(EVENT) $(ARGS)

## make create-admin EMAIL=... USERNAME=... [PASSWORD=...]  (against the running `make dev`)
create-admin: install
	$(BIN)/python -m localcloud create-admin $(EMAIL) $(USERNAME) $(PASSWORD)

bench: install
	$(BIN)/python bench/cold_start.py
	$(BIN)/python bench/routes.py
	$(BIN)/python bench/token_check.py
	$(BIN)/python bench/functions_exec.py
	$(BIN)/python bench/proxy.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/engine_cost.py

validate: install
	$(BIN)/sam validate --lint

build: install
	$(BIN)/sam build

clean:
	rm -rf .aws-sam .localcloud .bench .pytest_cache
