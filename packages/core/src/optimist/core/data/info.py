"""Metadata that travels with every Optimist dataset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset: classes, shape and normalisation statistics."""

    name: str
    class_names: tuple[str, ...]
    channels: int
    image_size: int
    mean: tuple[float, ...] = field(default=())
    std: tuple[float, ...] = field(default=())

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["class_names"] = list(self.class_names)
        d["mean"] = list(self.mean)
        d["std"] = list(self.std)
        d["num_classes"] = self.num_classes
        return d

    def with_classes(self, class_names: tuple[str, ...], name: str | None = None) -> "DatasetInfo":
        return DatasetInfo(
            name=name or self.name,
            class_names=tuple(class_names),
            channels=self.channels,
            image_size=self.image_size,
            mean=self.mean,
            std=self.std,
        )
