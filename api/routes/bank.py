"""`/v1/bank/batches`: make a bank batch of what is approved and not yet sent, list batches,
download a batch file (the only answer with payees' clear names and accounts: finance only), and
post the bank's result file. The same service as `fenrun bank` (`settlement.bank_batches`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response

from api.auth import Caller, allow
from api.deps import BooksDep, DataCipherDep
from api.errors import Refused, error_responses
from api.money_schemas import BankBatchesOut, BankBatchOut, BatchMadeOut, ResultTallyOut
from api.routes.payees import app_finance
from settlement.bank_batches import apply_results, batch_file_lines, list_batches, send_batch
from settlement.errors import InvalidBankFile, NotFound
from settlement.payment_channels import (
    MAX_RESULT_BYTES,
    BankFileChannel,
    batch_file_text,
    parse_result_text,
)
from settlement.personal_data import DataKeyMissing
from settlement.plan_store import load_plan_book

router = APIRouter(prefix="/v1/bank", tags=["bank"])
FinanceCaller = Annotated[Caller, allow("finance")]
BatchId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,40}$")]


@router.post("/batches", responses=error_responses(DataKeyMissing, validated=True))
def make(request: Request, books: BooksDep, cipher: DataCipherDep,
         caller: FinanceCaller) -> BatchMadeOut:
    """Gather every approved withdrawal and paid payout not yet sent into a new batch, written
    to the server's bank file directory (`FENRUN_BANK_FILE_DIR`); null when nothing waits."""
    now = datetime.now(UTC)
    with books.connect() as conn:
        plans = load_plan_book(conn)
    if not plans:
        raise Refused(409, "no_plan", "no plan version is stored: POST /v1/plans first")
    channel = BankFileChannel(app_finance(request).bank_file_dir)
    made, _ = send_batch(books, cipher, channel, plans.version_at(now).currency,
                         caller.name, now)
    return BatchMadeOut(batch=BankBatchOut.of(made.batch) if made.batch else None,
                        skipped=made.skipped)


@router.get("/batches", dependencies=[allow("finance")])
def batches(books: BooksDep) -> BankBatchesOut:
    """The newest 100 batches."""
    with books.connect() as conn:
        return BankBatchesOut(batches=[BankBatchOut.of(b) for b in list_batches(conn)])


@router.get("/batches/{batch_id}/file", dependencies=[allow("finance")],
            response_class=Response,
            responses={200: {"content": {"text/csv": {}}, "description": "the bank batch file"},
                       **error_responses(NotFound, DataKeyMissing, validated=True)})
def batch_file(batch_id: BatchId, books: BooksDep, cipher: DataCipherDep) -> Response:
    """The batch file to upload to the bank (payees' names and accounts in clear)."""
    with books.connect() as conn:
        text = batch_file_text(batch_file_lines(conn, cipher, batch_id))
    return Response(text, media_type="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{batch_id}.csv"'})


@router.post("/results", dependencies=[allow("finance")],
             responses=error_responses(InvalidBankFile, validated=True))
def results(books: BooksDep, text: Annotated[str, Body(
        media_type="text/csv", max_length=MAX_RESULT_BYTES,
        description="the bank's result CSV: batch_id,line_id,status[,reason]")]) -> ResultTallyOut:
    """Mark a batch's lines paid or failed; a malformed file is refused whole (422
    `invalid_bank_file`) and changes nothing; the same file again changes nothing."""
    return ResultTallyOut.of(apply_results(books, parse_result_text(text), datetime.now(UTC)))

