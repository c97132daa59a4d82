"""The reference: a minimal hand-written model server, as most people would first write one."""

import os

import joblib
from fastapi import FastAPI
from pydantic import BaseModel

model = joblib.load(os.environ["MODEL_PATH"])
app = FastAPI()


class Body(BaseModel):
    instances: list[list[float]]


@app.post("/invocations")
async def predict(body: Body):
    return {"predictions": model.predict(body.instances).tolist()}


@app.get("/ping")
async def ping():
    return {}
