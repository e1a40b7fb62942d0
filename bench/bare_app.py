"""The framework's floor for `task bench` (scenario 0): one `async def`
route with a response model, served by uvicorn as the service is."""

from fastapi import FastAPI
from pydantic import BaseModel

app = FastAPI()


class Message(BaseModel):
    message: str


@app.get('/', response_model=Message)
async def read_root():
    return {'message': 'ok'}
